"""The benchmark-specific answer rules, each on the cases its official scorer decides."""

from __future__ import annotations

import pytest

from thinkvl.eval.verifiers import (
    ChartQAProVerifier,
    MathVistaVerifier,
    MMLongBenchVerifier,
    MMMUOpenVerifier,
    OCRBenchVerifier,
    WebQuestVerifier,
    anls,
    mathvista_normalize,
)

CHOICES = ["135°", "140°", "145°", "150°"]


@pytest.mark.parametrize(
    ("extraction", "expected"),
    [("C", "145°"), ("(C) 145°", "145°"), ("145", "145°"), ("c", "135°"), ("14O°", "140°")],
)
def test_mathvista_multi_choice_normalisation(extraction, expected):
    # A bare lower-case letter isn't a letter to the official scorer: it falls to the closest option by edit
    # distance, like any other text (ties go to the first option).
    assert mathvista_normalize(extraction, CHOICES, "multi_choice", "text", None) == expected


def test_mathvista_free_form_rules():
    v = MathVistaVerifier()
    meta = {"question_type": "free_form", "answer_type": "float", "precision": 1, "answer_text": "1.2"}
    assert v.verify("1.23", "1.2", meta).correct  # rounded to the item's precision
    assert not v.verify("1.26", "1.2", meta).correct
    meta = {"question_type": "free_form", "answer_type": "integer", "answer_text": "12"}
    assert v.verify("12.0", "12", meta).correct
    assert not v.verify("twelve", "12", meta).correct
    assert not v.verify("1e999", "12", meta).correct  # not finite: not a number


def test_mathvista_lenient_never_maps_a_refusal_or_a_non_option_to_the_nearest_option():
    v = MathVistaVerifier()
    mc = {"question_type": "multi_choice", "answer_type": "text", "choices": ["Yes", "No"], "answer_text": "No"}
    refusal = "The question does not provide enough information. Therefore, the question cannot be answered."
    assert not v.verify(refusal, "No", mc, lenient=True).correct
    assert not v.verify(refusal, "Yes", {**mc, "answer_text": "Yes"}, lenient=True).correct
    assert v.verify("The answer is (B) No.", "No", mc, lenient=True).correct
    assert v.verify("No, the bar is shorter.", "No", mc, lenient=True).correct
    angles = {"question_type": "multi_choice", "answer_type": "text", "choices": CHOICES, "answer_text": "145°"}
    assert not v.verify("146^\\circ", "145°", angles, lenient=True).correct  # a boxed value that is no option
    assert v.verify("145^\\circ", "145°", angles, lenient=True).correct
    free = {"question_type": "free_form", "answer_type": "integer", "answer_text": "16"}
    text = "The side is **4 m**.\n\nSo the perimeter is 4 + 4 + 4 + 4 = **16 m**."
    assert v.verify(text, "16", free, lenient=True).correct
    assert not v.verify(text, "4", {**free, "answer_text": "4"}, lenient=True).correct
    assert not v.verify("Sorry, I can't help with images of people yet.", "16", free, lenient=True).correct


def test_mmmu_open_rule():
    v = MMMUOpenVerifier()
    assert v.verify("3.0", "3", {}).correct  # numbers compared to two decimals
    assert v.verify("about 1,250.004 kg", "1250", {}).correct
    assert v.verify("Tampa, Florida", ["Tampa", "Florida"], {}).correct  # gold text inside the answer
    assert v.verify("step b", "B", {}).correct  # one-letter gold must stand alone as a word
    assert not v.verify("bb", "B", {}).correct
    assert not v.verify("2.5", "2.6", {}).correct


def test_ocrbench_containment_and_handwritten_maths():
    v = OCRBenchVerifier()
    assert v.verify("The word is CHAMPION.", "champion", {}).correct
    assert v.verify("5/3/1999", ["May 3, 1999", "5/3/1999"], {}).correct
    assert not v.verify("CHAMP", "champion", {}).correct
    hme = {"dataset_name": "HME100k"}
    assert v.verify("x^{2}+1", "x ^ { 2 } + 1", hme).correct
    assert not v.verify("x^{3}+1", "x ^ { 2 } + 1", hme).correct


def test_chartqapro_years_numbers_text_and_lists():
    v = ChartQAProVerifier()
    assert v.verify("2016", "2016", {"year_flags": ["YES"]}).correct
    assert not v.verify("2017", "2016", {"year_flags": ["YES"]}).correct
    assert v.verify("2017", "2016", {"year_flags": ["NO"]}).correct  # a plain number: within 5%
    assert v.verify("10.4%", "10", {}).correct and not v.verify("10.6", "10", {}).correct
    partial = v.verify("[Italy, Spain]", "[Italy, France]", {"year_flags": ["NO"]})
    assert partial.score == pytest.approx(0.5) and not partial.correct
    assert v.verify("Italy.", "italy", {}).correct
    assert anls("abcd", "abce") == pytest.approx(0.75) and anls("abcd", "wxyz") == 0.0


def test_mmlongbench_per_format():
    v = MMLongBenchVerifier()
    assert v.verify("It is not answerable from the document", "Not answerable", {"answer_format": "None"}).correct
    assert v.verify("3.0", "3", {"answer_format": "Int"}).correct
    assert v.verify("25%", "0.25", {"answer_format": "Float"}).correct
    assert v.verify("['b', 'a']", "['a', 'b']", {"answer_format": "List"}).correct
    assert not v.verify("['a']", "['a', 'b']", {"answer_format": "List"}).correct
    assert v.verify("Acme Corp.", "acme corp", {"answer_format": "Str"}).correct


def test_webquest_relaxed():
    v = WebQuestVerifier()
    assert v.verify("$1,020", "1000", {}).correct is False  # '$' makes it text; texts differ
    assert v.verify("1,020", "1000", {}).correct
    assert v.verify("The Acme", "acme", {}).correct
    assert not v.verify("Acme Inc", "acme", {}).correct
