"""The math verifier: equivalence across notations, the known false positives, structures, safety."""

from __future__ import annotations

import pytest

from thinkvl.reward.mathexpr import MathSyntaxError, math_equal, parse_math
from thinkvl.reward.verifiers.math import MathVerifier, gold_text

EQUAL = [
    ("\\frac{1}{2}", "0.5"),
    ("\\frac{1}{2}", "1/2"),
    ("\\dfrac12", "\\frac{1}{2}"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("\\frac{\\sqrt{3}}{2}", "\\sin(\\pi/3)"),
    ("\\frac{\\sqrt{3}}{2}", "0.8660254"),
    ("(x+1)^2", "x^2+2x+1"),
    ("x^2 + 2x + 1", "(x+1)**2"),
    ("\\frac{1}{2^{99}}", "2^{-99}"),
    ("e^{i\\pi}", "-1"),
    ("\\log_2 8", "3"),
    ("\\ln(e^2)", "2"),
    ("\\sin^2 x + \\cos^2 x", "1"),
    ("x = 3", "3"),
    ("3", "x=3"),
    ("y = 2x + 1", "2x - y + 1 = 0"),
    ("(1, 2]", "(1,2]"),
    ("x > 3", "(3, \\infty)"),
    ("x \\in (-\\infty, 3)", "x < 3"),
    ("[1, 2) \\cup (3, 4]", "(3,4] \\cup [1,2)"),
    ("\\{1, 2, 3\\}", "3, 2, 1"),
    ("(1, 2)", "(1,2)"),
    ("2 \\pm \\sqrt{3}", "2+\\sqrt{3}, 2-\\sqrt{3}"),
    ("\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"),
    ("50\\%", "50"),
    ("50\\%", "0.5"),
    ("5 \\text{ cm}", "5"),
    ("30^\\circ", "30"),
    ("30°", "30"),
    ("1000", "1,000"),
    ("\\frac{3}{2}", "1\\frac{1}{2}"),
    ("x²+1", "x^2+1"),
    ("１２", "12"),
    ("\\text{no solution}", "\\text{No Solution}"),
    ("1/3", "0.3333333"),
]
DIFFERENT = [
    ("\\frac{1}{2004!}", "\\frac{1}{2006!}"),
    ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}"),
    ("\\frac{\\sqrt{2}}{2^{99}}", "\\frac{\\sqrt{2}}{2^{98}}"),
    ("(x+1)^2", "x^2+2x+2"),
    ("\\pi", "3.14"),
    ("1/3", "0.333"),
    ("(1, 2]", "[1, 2]"),
    ("(1, 2)", "(2, 1)"),
    ("\\{1, 2, 3\\}", "1, 2"),
    ("y = 2x + 1", "2x - y - 1 = 0"),
    ("50\\%", "5"),
    ("-\\infty", "\\infty"),
    ("2", "2 + \\epsilon"),
    ("x", "y"),
    ("10", "1O"),
]


@pytest.mark.parametrize(("gold", "pred"), EQUAL)
def test_equivalent_forms_are_equal(gold: str, pred: str) -> None:
    ok, why = math_equal(gold, pred)
    assert ok, why


@pytest.mark.parametrize(("gold", "pred"), DIFFERENT)
def test_different_answers_are_not_equal(gold: str, pred: str) -> None:
    assert not math_equal(gold, pred)[0]


@pytest.mark.parametrize(
    "pred", ["4 or 5", "a number between 0 and 10", "approximately 4", "__import__('os').system('ls')", "4, or 5"]
)
def test_words_and_code_are_rejected_not_evaluated(pred: str) -> None:
    ok, why = math_equal("4", pred)
    assert not ok
    assert "unparseable" in why or "not equivalent" in why


@pytest.mark.parametrize(
    "text",
    ["9^{9^{9^{9}}}", "{" * 200 + "1" + "}" * 200, "(" * 200 + "1" + ")" * 200, "10^{10^{10}}!", "\\frac{1}{0}"],
)
def test_pathological_expressions_fail_fast(text: str) -> None:
    with pytest.raises(MathSyntaxError):
        from thinkvl.reward.mathexpr import parse_value

        parse_value(text)


def test_tolerance_only_applies_when_a_decimal_is_written() -> None:
    assert math_equal("1/3", "0.33333333")[0]
    assert not math_equal("1/3", "1/3 + 1/10^9")[0]  # exact forms compare exactly
    assert MathVerifier(MathVerifier.Options(rel_tol=0.01)).verify("0.333", "1/3", {}).correct


def test_gold_numbers_keep_their_decimals() -> None:
    assert gold_text(1e-07) == "0.0000001"
    assert gold_text(3) == "3"
    v = MathVerifier()
    assert v.verify("0.0000001", 1e-07, {}).correct
    assert v.verify("\\frac{1}{4}", 0.25, {}).correct
    assert not v.verify("0.26", 0.25, {}).correct


def test_list_of_accepted_answers() -> None:
    v = MathVerifier()
    assert v.verify("\\frac{\\pi}{2}", ["90", "\\frac{\\pi}{2}"], {}).correct
    assert not v.verify("45", ["90", "\\frac{\\pi}{2}"], {}).correct


def test_parser_builds_a_tuple_ast() -> None:
    assert parse_math("2\\frac{1}{2}") == ("add", (("num", "2"), ("div", ("num", "1"), ("num", "2"))))
    assert parse_math("\\sqrt[3]{-8}")[0] == "sqrt"
    with pytest.raises(MathSyntaxError, match="unsupported command"):
        parse_math("\\input{/etc/passwd}")
