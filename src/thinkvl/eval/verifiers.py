"""Benchmark-specific answer rules, registered as reward verifiers so evaluation still scores through
`thinkvl.reward` (format gate, extraction, verifier): a benchmark's config maps its record domains to these.

Each reproduces the rule the benchmark's authors score with, applied to the extracted (boxed) answer:

- ``mathvista``: normalise to a choice / integer / float rounded to the item's precision, then exact match;
- ``chartqa_relaxed``: 5% relative tolerance for numbers, case-insensitive match for text;
- ``mmmu_open``: numbers to two decimals, or the gold text contained in the answer;
- ``ocrbench``: the gold contained in the answer (whitespace-free for handwritten maths);
- ``chartqapro``: per element, exact for years, 5% for numbers, ANLS for text;
- ``mmlongbench``: per answer format; ``webquest``: 5% for numbers, SQuAD-normalised match for text.

Numbers are parsed with ``float`` and lists by splitting: nothing a model writes is ever evaluated.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from typing import Any

from rapidfuzz.distance import Levenshtein

from thinkvl.data.record import CHOICE_LETTERS
from thinkvl.reward.extract import final_value
from thinkvl.reward.numbers import parse_number
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.verdict import Check
from thinkvl.reward.verifiers.choice import _DUPLICATES, ChoiceVerifier


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def anls(pred: str, gold: str, threshold: float = 0.5) -> float:
    """Average normalised Levenshtein similarity of one pair: 1 − distance/length, 0 below ``threshold``."""
    if not pred and not gold:
        return 1.0
    similarity = 1.0 - Levenshtein.normalized_distance(pred, gold)
    return similarity if similarity >= threshold else 0.0


def split_list(text: str) -> list[str] | None:
    """``"[2014, 'x y']"`` → ``["2014", "x y"]``; None when the text isn't bracketed."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        return [item.strip().strip("'\"").strip() for item in text[1:-1].split(",") if item.strip()]
    return None


# ------------------------------------------------------------------ MathVista
def mathvista_normalize(
    extraction: Any, choices: Sequence[str] | None, question_type: str, answer_type: str, precision: Any
) -> str | None:
    """MathVista's normalisation of an extracted answer: a choice's text, an integer, a float rounded to the
    item's precision, or the text itself (None when it doesn't parse).

    >>> mathvista_normalize("(B)", ["3", "4"], "multi_choice", "text", None)
    '4'
    >>> mathvista_normalize("1.26", None, "free_form", "float", 1)
    '1.3'
    """
    text = str(extraction).strip() if extraction is not None else ""
    if question_type == "multi_choice":
        options = [str(c) for c in choices or []]
        if not options:
            return None
        paren = re.findall(r"\(([a-zA-Z])\)", text)
        if paren:
            text = paren[0].upper()
        letters = CHOICE_LETTERS[: len(options)]
        if len(text) == 1 and text in letters:
            return options[letters.index(text)]
        # Otherwise the option closest in edit distance (the first of equals), as the official scorer does.
        return min(options, key=lambda option: Levenshtein.distance(text, option))
    if answer_type == "integer":
        value = _float(text)
        return str(int(value)) if value is not None else None
    if answer_type == "float":
        value = _float(text)
        if value is None:
            return None
        places = 1 if precision is None or (isinstance(precision, float) and math.isnan(precision)) else int(precision)
        return str(round(value, places))
    return text


def mathvista_lenient(pred: str, meta: dict[str, Any]) -> str | None:
    """Other models' free text, read before MathVista's normalisation: the letter of the one option the text names
    (never the nearest option by edit distance, which would credit a refusal or a value that is no option), or the
    number a free-form answer ends on; None when there is none."""
    if meta.get("question_type", "free_form") == "multi_choice":
        choices = [str(c) for c in meta.get("choices") or []]
        reader = ChoiceVerifier()
        letters, reason = reader.read(pred, choices)
        if len(letters) != 1 and reason != _DUPLICATES:
            letters, reason = reader.search(pred, choices)
        return min(letters) if letters and (len(letters) == 1 or reason == _DUPLICATES) else None
    if meta.get("answer_type") not in ("integer", "float"):
        return pred
    num = parse_number(pred)
    if num is None:
        value = final_value(pred)
        num = parse_number(value) if value else None
    return str(float(num.value)) if num is not None else None  # "64%" is 64: MathVista golds drop the sign


@register
class MathVistaVerifier(Verifier):
    """MathVista's rule. Strict mode normalises the boxed answer exactly as the official scorer normalises GPT-4's
    extraction (so the official numbers reproduce); lenient mode first reads free text with `mathvista_lenient`."""

    name = "mathvista"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        qtype = meta.get("question_type", "free_form")
        gold = str(meta.get("answer_text", answer))
        if lenient:
            read = mathvista_lenient(pred, meta)
            if read is None:
                return Check(0.0, False, "no option or value named")
            pred = read
        normalized = mathvista_normalize(
            pred, meta.get("choices"), qtype, meta.get("answer_type", "text"), meta.get("precision")
        )
        ok = normalized is not None and normalized == gold
        return Check(float(ok), ok, f"normalised to {normalized!r}" + ("" if ok else f", gold {gold!r}"))


# ------------------------------------------------------------------ MMMU (open questions)
_NUMBER = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b|-?\d+(?:\.\d+)?[eE][+-]?\d+|-?(?:\d+\.\d+|\.\d+|\d+\b)")


def mmmu_normal_forms(text: str) -> list[float | str]:
    """MMMU's normal form: a number rounded to 2 decimals, else lower-case text (one character is padded with a
    space on either side so it can't match inside a word)."""
    text = text.strip()
    value = _float(text.replace(",", ""))
    if value is not None:
        return [round(value, 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


@register
class MMMUOpenVerifier(Verifier):
    name = "mmmu_open"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        golds = [str(a) for a in (answer if isinstance(answer, list) else [answer])]
        gold_forms = [form for g in golds for form in mmmu_normal_forms(g)]
        candidates = [pred.strip().strip(".")] + _NUMBER.findall(pred)
        pred_forms = {form for c in candidates for form in mmmu_normal_forms(c)}
        for form in pred_forms:
            if isinstance(form, float):
                if form in gold_forms:
                    return Check(1.0, True, f"number {form} matches")
            elif any(isinstance(g, str) and g in form for g in gold_forms):
                return Check(1.0, True, "gold text found in the answer")
        return Check(0.0, False, f"no match for {golds}")


# ------------------------------------------------------------------ OCRBench
@register
class OCRBenchVerifier(Verifier):
    name = "ocrbench"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        golds = [str(a) for a in (answer if isinstance(answer, list) else [answer])]
        if meta.get("dataset_name") == "HME100k":  # handwritten maths: compare with all whitespace removed

            def norm(s: str) -> str:
                return re.sub(r"\s+", "", s.strip())
        else:

            def norm(s: str) -> str:
                return s.lower().strip().replace("\n", " ")

        p = norm(pred)
        for gold in golds:
            g = norm(gold)
            if g and g in p:
                return Check(1.0, True, f"contains {gold!r}")
        return Check(0.0, False, f"contains none of {golds[:3]}")


# ------------------------------------------------------------------ ChartQA (relaxed accuracy)
def _chartqa_float(text: str) -> float | None:
    text = text.strip()
    if text.endswith("%"):
        value = _float(text[:-1])
        return value / 100 if value is not None else None
    return _float(text)


@register
class ChartQARelaxedVerifier(Verifier):
    """ChartQA's relaxed accuracy: two numbers within 5% relative (a trailing % divides by 100), else the texts
    equal ignoring case. Unlike the general ``chart`` verifier it has no year or hedge rules, as the official
    scorer has none."""

    name = "chartqa_relaxed"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        gold = str(answer)
        p, g = _chartqa_float(pred), _chartqa_float(gold)
        if p is not None and g is not None:
            ok = p == g if g == 0 else abs(p - g) / abs(g) <= 0.05
            return Check(float(ok), ok, "numbers within 5%" if ok else f"{p:g} vs {g:g}")
        ok = pred.strip().lower() == gold.strip().lower()
        return Check(float(ok), ok, "text match" if ok else "text differs")


# ------------------------------------------------------------------ ChartQAPro
def _chartqapro_pair(pred: str, gold: str, year: bool) -> float:
    if year:
        return float(pred.strip().lower() == gold.strip().lower())
    p, g = pred.strip().strip("%").strip(), gold.strip().strip("%").strip()
    pv, gv = _float(p), _float(g)
    if pv is not None and gv is not None:
        if gv == 0:
            return float(pv == 0)
        return float(abs(pv - gv) / abs(gv) <= 0.05)
    return anls(p.lower(), g.lower())


@register
class ChartQAProVerifier(Verifier):
    name = "chartqapro"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        gold = str(answer).strip().strip(".").strip("\n")
        pred = pred.strip().strip(".").strip("\n")
        golds = split_list(gold) or [gold]
        preds = split_list(pred) or [pred]
        flags = [str(f).strip().upper() == "YES" for f in meta.get("year_flags") or []] or [False]
        if len(flags) < len(golds):
            flags = flags * len(golds)
        n = max(len(golds), len(preds))
        scores = [
            _chartqapro_pair(preds[i], golds[i], flags[i]) if i < len(golds) and i < len(preds) else 0.0
            for i in range(n)
        ]
        score = sum(scores) / n
        return Check(score, score >= 1.0 - 1e-9, f"element scores {[round(s, 2) for s in scores]}")


# ------------------------------------------------------------------ MMLongBench-Doc
def _clean(text: str) -> str:
    text = text.lower().strip().strip(".").strip()
    for unit in ("mile", "miles", "million", "billion", "%", "$", "£", "€"):
        text = text.replace(unit, "").strip()
    return re.sub(r"\s+", " ", text).strip()


def _float_equal(a: float, b: float) -> bool:
    # Percent answers may be written as 0.25 or 25: either scale counts, to 1% relative tolerance.
    return any(math.isclose(a, c, rel_tol=0.01, abs_tol=1e-9) for c in (b, b * 100, b / 100))


@register
class MMLongBenchVerifier(Verifier):
    name = "mmlongbench"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        fmt = str(meta.get("answer_format", "Str"))
        gold = str(answer)
        if fmt == "None" or gold.strip().lower() == "not answerable":
            ok = "not answerable" in pred.lower()
            return Check(float(ok), ok, "unanswerable")
        if fmt == "Int":
            p, g = _float(_clean(pred)), _float(_clean(gold))
            ok = p is not None and g is not None and int(p) == int(g)
            return Check(float(ok), ok, "integer")
        if fmt == "Float":
            p, g = _float(_clean(pred)), _float(_clean(gold))
            ok = p is not None and g is not None and _float_equal(p, g)
            return Check(float(ok), ok, "float within 1%")
        if fmt == "List":
            golds = sorted(_clean(x) for x in (split_list(gold) or [gold]))
            preds = sorted(_clean(x) for x in (split_list(pred) or [p for p in pred.split(",") if p.strip()]))
            if len(golds) != len(preds):
                return Check(0.0, False, f"{len(preds)} items for {len(golds)}")
            score = min(anls(p, g) for p, g in zip(preds, golds))
            return Check(score, score >= 1.0 - 1e-9, "list")
        p, g = _clean(pred), _clean(gold)
        score = anls(p, g)
        return Check(score, p == g, f"ANLS {score:.2f}")


# ------------------------------------------------------------------ WebQuest
def squad_normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's answer normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


@register
class WebQuestVerifier(Verifier):
    name = "webquest"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        for gold in [str(a) for a in (answer if isinstance(answer, list) else [answer])]:
            pv = _float(pred.strip().strip("%").replace(",", ""))
            gv = _float(gold.strip().strip("%").replace(",", ""))
            if pv is not None and gv is not None:
                if (gv == 0 and pv == 0) or (gv != 0 and abs(pv - gv) / abs(gv) <= 0.05):
                    return Check(1.0, True, "number within 5%")
            elif squad_normalize(pred) and squad_normalize(pred) == squad_normalize(gold):
                return Check(1.0, True, "text match")
        return Check(0.0, False, "no match")
