"""Loaders keep multiple-choice items whose options can't be split out of the question: the record holds a letter
answer without meta.choices, and the reward system checks it as a letter (or reads the options itself)."""

from __future__ import annotations

import json

from thinkvl.eval.loaders import load_benchmark
from thinkvl.reward import RewardSystem


def test_mmstar_item_with_unsplittable_options_is_scored_as_a_letter(tmp_path, kit):
    row = {
        "index": 9,
        "question": "Which panel shows the larger angle? See the labels in the image.",
        "image": kit.image_struct(),
        "answer": "(C)",
        "category": "math",
        "l2_category": "geometry",
    }
    kit.write_parquet(tmp_path / "d" / "mmstar" / "mmstar.parquet", [row])
    (rec,) = load_benchmark("mmstar", tmp_path / "d", tmp_path / "cache").records
    assert rec.domain == "choice" and rec.answer == "C" and "choices" not in rec.meta
    assert rec.question.endswith("Answer with the letter of the correct option.")
    rs = RewardSystem({"limits": {"isolation": "none"}, "thinking": False})
    right = "<answer>So <|begin_of_box|>C<|end_of_box|></answer>"
    wrong = "<answer>So <|begin_of_box|>B<|end_of_box|></answer>"
    assert rs.score(right, rec).correct and not rs.score(wrong, rec).correct


def test_video_item_with_unlettered_options_is_kept(data_dir, tmp_path, kit):
    meta = data_dir / "motionbench" / "video_info.meta.jsonl"
    item = {"key": "mb-003", "video_path": "self-collected/mb-003.mp4", "question_type": "Camera Motion",
            "qa": [{"uid": "m3", "question": "Does the camera pan (A) left or (B) right?", "answer": "B"}]}  # fmt: skip
    meta.write_text(meta.read_text() + json.dumps(item) + "\n")
    for key in ("mb-001", "mb-003"):
        kit.make_video(data_dir / "motionbench" / "self-collected" / f"{key}.mp4", frames=8, fps=8)
    records = load_benchmark("motionbench", data_dir, tmp_path / "cache", options={"num_frames": 2}).records
    rec = next(r for r in records if r.id == "motionbench-m3")
    assert rec.answer == "B" and "choices" not in rec.meta
    rs = RewardSystem({"limits": {"isolation": "none"}, "thinking": False})
    assert rs.score("<answer><|begin_of_box|>right<|end_of_box|></answer>", rec).correct  # options from the question
    assert not rs.score("<answer><|begin_of_box|>A<|end_of_box|></answer>", rec).correct
