"""Video loaders: frames sampled from real MP4 files (made with PyAV), subtitles, and each annotation schema."""

from __future__ import annotations

import pytest
from PIL import Image

from thinkvl.data.record import validate_media
from thinkvl.eval.loaders import load_benchmark
from thinkvl.eval.loaders.video import parse_srt, split_lettered_lines, subtitles_at
from thinkvl.eval.media import MediaStore, MissingMediaError

SRT = """1
00:00:00,000 --> 00:00:00,900
<font color="#ffffff">Welcome to the kitchen.</font>

2
00:00:01,000 --> 00:00:01,900
Now we chop the onions.
"""


def _video(record):
    return next(p for p in record.messages[0]["content"] if p["type"] == "video")


def test_frames_are_spread_over_the_video_with_their_rate(tmp_path, kit):
    kit.make_video(tmp_path / "src" / "v.mp4", frames=16, fps=8)  # 2 s
    store = MediaStore(tmp_path / "cache", tmp_path / "src")
    frames, fps, times = store.video_frames("v.mp4", "v", 4)
    assert len(frames) == 4 and times == sorted(times)
    assert times[0] == pytest.approx(0.25, abs=0.13) and times[-1] == pytest.approx(1.75, abs=0.13)
    assert fps == pytest.approx(3 / (times[-1] - times[0]))
    levels = [Image.open(tmp_path / "cache" / f).convert("L").getpixel((16, 16)) for f in frames]
    assert levels == sorted(levels) and levels[-1] - levels[0] > 80  # later frames are brighter
    assert store.video_frames("v.mp4", "v", 4)[0] == frames  # cached
    with pytest.raises(MissingMediaError, match="missing.mp4"):
        store.video_frames("missing.mp4", "m", 4)


def test_videomme_with_and_without_subtitles(tmp_path, kit):
    src = tmp_path / "d" / "videomme"
    rows = [
        {
            "video_id": "001",
            "duration": "short",
            "domain": "Knowledge",
            "sub_category": "Humanity & History",
            "url": "https://www.youtube.com/watch?v=abc",
            "videoID": "abc",
            "question_id": "001-1",
            "task_type": "Counting Problem",
            "question": "How many onions are chopped?",
            "options": ["A. 1.", "B. 2.", "C. 3.", "D. 4."],
            "answer": "B",
        }
    ]
    kit.write_parquet(src / "videomme" / "test-00000-of-00001.parquet", rows)
    kit.make_video(src / "data" / "abc.mp4", frames=16, fps=8)
    (src / "subtitle").mkdir()
    (src / "subtitle" / "abc.srt").write_text(SRT, encoding="utf-8")
    opts = {"num_frames": 4}
    (plain,) = load_benchmark("videomme", tmp_path / "d", tmp_path / "cache", options=opts).records
    (subbed,) = load_benchmark("videomme_sub", tmp_path / "d", tmp_path / "cache", options=opts).records
    assert plain.meta["choices"] == ["1.", "2.", "3.", "4."] and plain.answer == "B"
    assert "subtitles" not in plain.question
    assert "Welcome to the kitchen.\nNow we chop the onions." in subbed.question
    assert len(_video(plain)["video"]) == 4 and _video(plain)["fps"] > 0
    validate_media(plain, tmp_path / "cache" / "videomme")


def test_srt_parsing_and_selection():
    subs = parse_srt(SRT)
    assert subs == [(0.0, 0.9, "Welcome to the kitchen."), (1.0, 1.9, "Now we chop the onions.")]
    assert subtitles_at(subs, [1.5, 1.6]) == ["Now we chop the onions."]


def test_lvbench_and_motionbench_meta_jsonl(data_dir, tmp_path, kit):
    kit.make_video(data_dir / "lvbench" / "videos" / "vid00001.mp4", frames=8, fps=8)
    records = load_benchmark("lvbench", data_dir, tmp_path / "cache", options={"num_frames": 2}).records
    assert [(r.id, r.answer) for r in records] == [("lvbench-101", "B"), ("lvbench-102", "A")]
    assert records[0].meta["choices"] == ["A cup", "A book", "A phone", "A key"]
    assert records[1].meta["question_type"] == ["event understanding", "reasoning"]
    kit.make_video(data_dir / "motionbench" / "self-collected" / "mb-001.mp4", frames=8, fps=8)
    records = load_benchmark("motionbench", data_dir, tmp_path / "cache", options={"num_frames": 2}).records
    assert [r.id for r in records] == ["motionbench-m1"]  # the hidden-answer ("NA") item is not loaded
    assert records[0].meta["question_type"] == "Motion Recognition"
    assert split_lettered_lines("Q?\n(A) x\n(C) y") is None  # letters out of order: not options


def test_mmvu_mc_and_open_ended(data_dir, tmp_path, kit):
    for rel in ("videos/Chemistry/0.mp4", "videos/Computer_Science/0.mp4"):
        kit.make_video(data_dir / "mmvu" / rel, frames=8, fps=8)
    mc, open_ = load_benchmark("mmvu", data_dir, tmp_path / "cache", options={"num_frames": 2}).records
    assert mc.domain == "choice" and mc.meta["choices"][0] == "10.0" and mc.answer == "A"
    assert open_.domain == "vqa" and open_.answer == "Depth-First Search"


def test_videommmu_tracks(tmp_path, kit):
    src = tmp_path / "d" / "videommmu"
    rows = [
        {
            "id": "validation_Art_1",
            "question": "What is shown?",
            "options": ["a", "b", "c"],
            "answer": "C",
            "link_selected": "https://x",
            "question_type": "multiple-choice",
            "image": None,
        }
    ]
    kit.write_parquet(src / "Perception" / "test-00000-of-00001.parquet", rows)
    kit.make_video(src / "videos" / "Perception" / "validation_Art_1.mp4", frames=8, fps=8)
    (rec,) = load_benchmark("videommmu", tmp_path / "d", tmp_path / "cache", options={"num_frames": 2}).records
    assert rec.id == "videommmu-Perception-validation_Art_1" and rec.meta["track"] == "Perception"
