"""Agreement with official judges on real benchmark outputs (shared/benchdata)."""

from __future__ import annotations

import json

from thinkvl.data.record import CHOICE_LETTERS
from thinkvl.reward import RewardSystem
from thinkvl.reward.verifiers.choice import ChoiceVerifier
from thinkvl.reward.verifiers.math import MathVerifier


def test_mathvista_bard_predictions_match_the_official_judge(benchdata) -> None:
    """Bard's normalised predictions, judged by our choice/math verifiers vs the official exact-match judge.

    Measured: 1000/1000 agree (multiple choice by option text, free-form integers/floats/lists by the math
    verifier; a missing prediction counts as wrong, as officially).
    """
    data = json.loads((benchdata / "mathvista" / "output_bard.json").read_text())
    choice, math = ChoiceVerifier(), MathVerifier()
    agree = 0
    for row in data.values():
        if row["prediction"] is None:
            ours = False
        elif row["question_type"] == "multi_choice":
            letter = CHOICE_LETTERS[row["choices"].index(row["answer"])]
            ours = choice.verify(str(row["prediction"]), letter, {"choices": row["choices"]}).correct
        else:
            ours = math.verify(str(row["prediction"]), row["answer"], {}).correct
        agree += ours == row["true_false"]
    assert len(data) == 1000
    assert agree == 1000


def test_mathvista_bard_raw_responses_with_lenient_extraction(benchdata) -> None:
    """End to end from Bard's free text (no GPT-4 extractor): lenient extraction + our verifiers.

    Measured: 919/1000 verdicts agree with the official ones. We find 271 correct, 269 of them officially correct
    (the reader rarely over-credits); the official judge finds 348: free text without a marked final answer is
    where a rule reader and GPT-4 extraction part ways.
    """
    data = json.loads((benchdata / "mathvista" / "output_bard.json").read_text())
    responses, records, truth = [], [], []
    for row in data.values():
        if row["question_type"] == "multi_choice":
            letter = CHOICE_LETTERS[row["choices"].index(row["answer"])]
            records.append({"domain": "choice", "answer": letter, "meta": {"choices": row["choices"]}})
        else:
            records.append({"domain": "math", "answer": row["answer"]})
        responses.append(row["response"] or "")
        truth.append(row["true_false"])
    rs = RewardSystem({"lenient": True, "thinking": False, "limits": {"isolation": "none"}})
    verdicts = rs.score_batch(responses, records)
    agree = sum(v.correct == t for v, t in zip(verdicts, truth))
    assert agree >= 900, agree
    ours = [t for v, t in zip(verdicts, truth) if v.correct]
    assert sum(ours) / len(ours) >= 0.98  # what we credit, the official judge credits too
