"""The official LLM-judge protocols of MathVista, ChartMuseum, MMVU and MMLongBench-Doc, reproduced.

Each benchmark's own scorer asks an LLM in its own way; a `Protocol` here builds the same chat request from one
item (the prompt files of ``official_prompts/``, cited in its README, filled in as the official code fills them)
and reads the judge's reply as the official code reads it:

- MathVista (``evaluation/extract_answer.py``, ``calculate_score.py``): GPT-4 extracts the answer with a 5-shot
  prompt (after the same rule shortcuts: an answer that already is an option, an integer or a float is taken as
  is), then the official normalisation and exact match;
- ChartMuseum (``evaluate.py``): gpt-4.1-mini says whether the answer and the reference are equivalent; "yes" in
  its reply counts as correct;
- MMVU (``utils/eval_utils.py``): GPT-4o extracts and grades in one structured reply ``{extracted_answer,
  correct}`` (temperature 1 and 128 tokens, as the official call);
- MMLongBench-Doc (``eval/extract_answer.py``, ``eval_score.py``): GPT-4o extracts ``Extracted answer: …``, then
  the official per-format scorer (`mmlongbench_score`, ported here).

Nothing a model or a judge writes is evaluated: numbers are read with ``float``, lists with ``ast.literal_eval``
(where the official code calls ``eval``).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from math import isclose
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from thinkvl.data.record import CHOICE_LETTERS, Record
from thinkvl.eval.verifiers import mathvista_normalize

PROMPTS = Path(__file__).parent / "official_prompts"
Request = dict[str, Any]  # a chat-completions body without "model"


@cache
def official_prompt(name: str) -> str:
    return (PROMPTS / name).read_text(encoding="utf-8")


@dataclass
class Outcome:
    """One item's official verdict: correct, score in [0, 1], the answer as extracted, and how it was reached."""

    correct: bool
    score: float
    extracted: str | None
    reason: str


class Protocol:
    """How one benchmark's official scorer asks its judge (`request`) and reads the reply (`decide`)."""

    name = ""

    def request(self, record: Record, answer: str) -> Request | Outcome:
        """The judge request for this item, or its outcome when the official code decides without a judge."""
        raise NotImplementedError

    def decide(self, record: Record, answer: str, reply: str) -> Outcome:
        raise NotImplementedError


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# ------------------------------------------------------------------ MathVista
def mathvista_query(question: str, choices: list[str] | None, unit: Any, precision: Any, answer_type: str) -> str:
    """The official query (``build_query.py``, zero-shot "solution" setting) for testmini.json rows, which lack it."""
    if choices:
        hint = "Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
    elif answer_type == "integer":
        hint = "Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, at the end."  # noqa: E501
    elif answer_type == "float" and precision == 1:
        hint = "Please answer the question requiring a floating-point number with one decimal place and provide the final value, e.g., 1.2, 1.3, 1.4, at the end."  # noqa: E501
    elif answer_type == "float" and precision == 2:
        hint = "Please answer the question requiring a floating-point number with two decimal places and provide the final value, e.g., 1.23, 1.34, 1.45, at the end."  # noqa: E501
    else:
        hint = "Please answer the question requiring a Python list as an answer and provide the final list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end."  # noqa: E501
    text = f"Hint: {hint}\nQuestion: {question}" + (f" (Unit: {unit})" if unit else "")
    if choices:
        text += "\nChoices:\n" + "\n".join(f"({CHOICE_LETTERS[i]}) {c}" for i, c in enumerate(choices))
    return text


def mathvista_shortcut(response: str, meta: dict[str, Any]) -> str | None:
    """The extraction the official ``extract_answer`` makes without GPT-4, or None when it asks GPT-4."""
    if response == "":
        return ""
    if meta.get("question_type") == "multi_choice" and response in (meta.get("choices") or []):
        return response
    if meta.get("answer_type") == "integer":
        try:
            return str(int(response))
        except ValueError:
            pass
    if meta.get("answer_type") == "float":
        try:
            return str(float(response))
        except ValueError:
            pass
    return None


class MathVistaExtract(Protocol):
    name = "mathvista"

    def request(self, record: Record, answer: str) -> Request | Outcome:
        quick = mathvista_shortcut(answer, record.meta)
        if quick is not None:
            return self._verdict(record, quick, "official rule shortcut, no judge call")
        query = record.meta.get("query") or ""
        text = f"{official_prompt('mathvista_extract.txt').strip()}\n\n{query}\n\n{answer}\n\nExtracted answer: "
        return {"messages": _user(text), "temperature": 0, "max_tokens": 1024}

    def decide(self, record: Record, answer: str, reply: str) -> Outcome:
        return self._verdict(record, reply, "judge extraction")

    @staticmethod
    def _verdict(record: Record, extraction: str, how: str) -> Outcome:
        m = record.meta
        gold = str(m.get("answer_text", record.answer))
        norm = mathvista_normalize(
            extraction, m.get("choices"), m["question_type"], m["answer_type"], m.get("precision")
        )
        ok = norm is not None and norm == gold
        return Outcome(ok, float(ok), extraction, f"{how}: normalised to {norm!r}" + ("" if ok else f", gold {gold!r}"))


# ------------------------------------------------------------------ ChartMuseum
class ChartMuseumCompare(Protocol):
    name = "chartmuseum"

    def request(self, record: Record, answer: str) -> Request | Outcome:
        text = (
            official_prompt("chartmuseum_compare.txt")
            .replace("[QUESTION]", str(record.meta.get("question", record.question)))
            .replace("[ANSWER1]", str(record.answer))
            .replace("[ANSWER2]", answer)
        )
        return {"messages": _user(text), "temperature": 0}

    def decide(self, record: Record, answer: str, reply: str) -> Outcome:
        ok = "yes" in reply.lower()  # the official parse
        return Outcome(ok, float(ok), answer, "judge: equivalent" if ok else "judge: not equivalent")


# ------------------------------------------------------------------ MMVU
_MMVU_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "EvaluationOutput",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"extracted_answer": {"type": "string"}, "correct": {"type": "boolean"}},
            "required": ["extracted_answer", "correct"],
            "additionalProperties": False,
        },
    },
}


class MMVUJudge(Protocol):
    name = "mmvu"

    def __init__(self, structured: bool = True):
        self.structured = structured

    def request(self, record: Record, answer: str) -> Request | Outcome:
        m = record.meta
        question = str(m.get("question", record.question))
        if m.get("question_type") == "multiple-choice":
            options = "\n".join(f"{CHOICE_LETTERS[i]}: {c}" for i, c in enumerate(m.get("choices") or []))
            context, system = f"Question: {question}\n\nOptions:\n{options}", "mmvu_multi_choice.txt"
        else:
            context, system = f"Question: {question}", "mmvu_open_ended.txt"
        user = f"{context}\n\nGround Truth Answer: {record.answer}\n\nModel Response to the Question: {answer}"
        body: Request = {
            "messages": [{"role": "system", "content": official_prompt(system)}, {"role": "user", "content": user}],
            "temperature": 1.0,
            "top_p": 1.0,
            "max_tokens": 128,
        }
        if self.structured:
            body["response_format"] = _MMVU_SCHEMA
        return body

    def decide(self, record: Record, answer: str, reply: str) -> Outcome:
        found = re.search(r"\{.*\}", reply, re.S)
        try:
            data = json.loads(found.group(0) if found else reply)
            extracted, correct = str(data["extracted_answer"]), data["correct"]
            if not isinstance(correct, bool):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return Outcome(False, 0.0, "", "judge reply is not the structured output; counted wrong, as officially")
        return Outcome(correct, float(correct), extracted, "judge: correct" if correct else "judge: wrong")


# ------------------------------------------------------------------ MMLongBench-Doc
class MMLongBenchExtract(Protocol):
    name = "mmlongbench"

    def request(self, record: Record, answer: str) -> Request | Outcome:
        question = str(record.meta.get("question", record.question))
        messages = [
            {"role": "user", "content": official_prompt("mmlongbench_extract.md")},
            {"role": "assistant", "content": f"\n\nQuestion:{question}\nAnalysis:{answer}\n"},
        ]
        return {
            "messages": messages,
            "temperature": 0.0,
            "max_tokens": 256,
            "top_p": 1,
            "frequency_penalty": 0,
            "presence_penalty": 0,
        }

    def decide(self, record: Record, answer: str, reply: str) -> Outcome:
        try:
            pred = reply.split("Answer format:")[0].split("Extracted answer:")[1].strip()
        except IndexError:
            return Outcome(False, 0.0, "Failed to extract", "judge reply has no 'Extracted answer:'")
        score = mmlongbench_score(record.answer, pred, str(record.meta.get("answer_format", "Str")))
        return Outcome(score >= 1.0, score, pred, f"official score {score:.2f}")


def _anls(gold: str, pred: str, threshold: float = 0.5) -> float:
    length = max(len(gold.upper()), len(pred.upper()))
    value = 1.0 - (Levenshtein.distance(gold, pred) / length if length else 0.0)
    return 0.0 if value <= threshold else value


def _clean(s: Any) -> str:
    # The official get_clean_string also "strips" mile/miles/million with a discarded rstrip: no effect, so none here.
    s = str(s).lower().strip()
    s = re.sub(r"\s*\([^)]*\)", "", s).strip()
    s = re.sub(r"^['\"]|['\"]$", "", s).strip()
    return s.strip().lstrip("$").strip().strip().rstrip("%").strip()


def _exact_kind(s: str) -> bool:
    """Answers the official scorer matches exactly: URLs, file names, pages, phone numbers, times, dates, e-mails."""
    return bool(
        "https://" in s
        or s.endswith((".py", "ipynb"))
        or s.startswith("page")
        or re.fullmatch(r"\b\d+(-\d+|\s\d+)?\b", s)
        or "a.m." in s
        or "p.m." in s
        or re.fullmatch(r"\b\d{4}[-\s]\d{2}[-\s]\d{2}\b", s)
        or re.fullmatch(r"\b\d{4}[-\s]\d{2}\b", s)
        or re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", s)
    )


def _float_equal(reference: float, prediction: float) -> bool:
    def places(x: float) -> int:
        return len(str(x).split(".")[-1]) if "." in str(x) else 3

    for item in (reference / 100, reference, reference * 100):
        if isclose(item, prediction, rel_tol=0.01):
            return True
        precision = max(min(places(prediction), places(item)), 2)
        if round(prediction, precision) == round(item, precision):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = ast.literal_eval(value)  # literals only; the official code calls eval
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return [value]
        return list(parsed) if isinstance(parsed, (list, tuple)) else [parsed]
    return value if isinstance(value, list) else [value]


def mmlongbench_score(gold: Any, pred: str, answer_format: str) -> float:
    """MMLongBench-Doc's official ``eval_score``: integers exactly, floats to 1% (also as percentages), strings by
    exact match for URL/date-like answers and ANLS otherwise, lists element-wise after sorting.

    >>> mmlongbench_score("12", "12.0", "Int"), mmlongbench_score("0.25", "25%", "Float")
    (1.0, 1.0)
    >>> mmlongbench_score("['a', 'b']", "['b', 'a']", "List")
    1.0
    """
    if answer_format == "Int":
        try:
            return float(int(str(gold)) == int(float(pred)))
        except (ValueError, OverflowError):
            return 0.0
    if answer_format == "Float":
        try:
            return float(_float_equal(float(_clean(gold)), float(_clean(pred))))
        except (ValueError, OverflowError):
            return 0.0
    if answer_format in ("Str", "None"):
        g, p = _clean(gold), _clean(pred)
        return float(g == p) if _exact_kind(g) else _anls(g, p)
    golds, preds = _as_list(gold), _as_list(pred)
    if len(golds) != len(preds):
        return 0.0
    golds, preds = sorted(_clean(a) for a in golds), sorted(_clean(a) for a in preds)
    if not golds:
        return 1.0  # both empty (the official code fails on this)
    try:
        float(golds[0])
        numeric = True
    except ValueError:
        numeric = False
    if numeric or _exact_kind(golds[0]):
        return float("-".join(golds) == "-".join(preds))
    return min(_anls(g, p) for g, p in zip(golds, preds))


PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p for p in (MathVistaExtract, ChartMuseumCompare, MMVUJudge, MMLongBenchExtract)
}
