from __future__ import annotations

import json

import pytest

from thinkvl.reward.verifiers.ocr import OCRVerifier
from thinkvl.reward.verifiers.vqa import VQAVerifier


@pytest.mark.parametrize(
    ("pred", "gold", "ok"),
    [
        ("Two cars.", "2 cars", True),
        ("the red one", "red one", True),
        ("Yes", "yes", True),
        ("yes and no", "yes", False),
        ("no", "yes", False),
        ("red or blue", "red", False),
        ("probably red", "red", False),
        ("cat", ["dog", "cat"], True),
        ("cаt", "cat", False),  # Cyrillic а
        ("3.0", "3", True),
        ("", "3", False),
    ],
)
def test_vqa_exact(pred: str, gold: object, ok: bool) -> None:
    assert VQAVerifier().verify(pred, gold, {}).correct is ok


def test_vqa_token_f1() -> None:
    v = VQAVerifier(VQAVerifier.Options(metric="f1", f1_correct=0.6))
    check = v.verify("a big red car", "red car", {})
    assert check.correct and 0.6 <= check.score < 1.0
    assert not v.verify("blue bus", "red car", {}).correct
    with pytest.raises(ValueError):
        VQAVerifier.Options(metric="bleu")  # type: ignore[arg-type]


def test_ocr_similarity() -> None:
    v = OCRVerifier()
    assert v.verify("Hello World", "hello world", {}).score == 1.0
    partial = v.verify("Hello Wrld", "hello world", {})
    assert 0.85 < partial.score < 1.0 and not partial.correct
    assert v.verify("Chatswood, Epping", ["Chatswood Epping", "Chatswood, Epping"], {}).correct
    assert OCRVerifier(OCRVerifier.Options(case_sensitive=True)).verify("HELLO", "hello", {}).score == 0.0
    lenient = OCRVerifier(OCRVerifier.Options(ignore_spaces=True, ignore_punctuation=True, correct_threshold=0.9))
    assert lenient.verify("Chats wood Epping!", "Chatswood Epping", {}).correct


def test_ocrbench_answers(benchdata) -> None:
    """Every OCRBench gold scores 1 against itself; dropping one character of a long answer costs about 1/len."""
    rows = json.loads((benchdata / "ocrbench" / "OCRBench.json").read_text())
    v = OCRVerifier()
    assert len(rows) == 1000
    for row in rows:
        golds = row["answers"] if isinstance(row["answers"], list) else [row["answers"]]
        assert v.verify(str(golds[0]), row["answers"], {}).score == 1.0
        text = str(golds[0]).strip()
        if len(text) >= 10 and len(set(text)) > 3:
            cut = text[:5] + text[6:]
            score = v.verify(cut, text, {}).score
            assert 1 - 2 / len(text) <= score < 1.0, (text, score)
