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
    """End to end from Bard's free text (no GPT-4 extractor): lenient extraction + our choice/math verifiers.

    Measured: 978/1000 verdicts agree with the official ones; we credit 328, 327 of them officially correct
    (precision 99.7%; the other is item 849, whose "(b)" the official scorer reads as the letter B). Most of the
    22 disagreements are the official rule mapping a refusal or a value that is no option to the nearest option by
    edit distance, which we never do.
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
    ours = [t for v, t in zip(verdicts, truth) if v.correct]
    print(f"MathVista/Bard lenient: agreement {agree / 10:.1f}%, precision {sum(ours) / len(ours):.1%}")
    assert agree >= 975, agree  # measured 978
    assert sum(ours) / len(ours) >= 0.99  # what we credit, the official judge credits too (measured 327/328)
    refusals = [v for v, r in zip(verdicts, responses) if "can't help with images" in r or "can't process" in r]
    assert refusals and not any(v.correct for v in refusals)
