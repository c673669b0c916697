"""General-VQA loaders on fixtures in each dataset's schema: MMBench TSV and parquet, MMStar, BLINK, MUIRBench."""

from __future__ import annotations

import pytest
from PIL import Image

from thinkvl.data.record import validate_media
from thinkvl.eval.loaders import load_benchmark
from thinkvl.eval.loaders.general import split_inline_options
from thinkvl.eval.tables import DataNotFoundError


def _images(record):
    return [p["image"] for m in record.messages for p in m["content"] if p.get("type") == "image"]


def test_mmbench_tsv_decodes_base64_and_shared_images_and_keeps_circular_groups(data_dir, tmp_path):
    loaded = load_benchmark("mmbench_en", data_dir, tmp_path / "cache")
    assert [r.id for r in loaded.records] == [
        "mmbench_en-0",
        "mmbench_en-1000000",
        "mmbench_en-2000000",
        "mmbench_en-1",
        "mmbench_en-1000001",
    ]
    first, rotated = loaded.records[0], loaded.records[2]
    assert first.meta["choices"] == ["red", "green", "blue"]  # the empty D is not an option
    assert (first.answer, rotated.answer) == ("A", "B")
    assert rotated.meta["choices"][1] == "red"  # the same gold text, rotated
    assert rotated.meta["circular_group"] == first.meta["circular_group"] == 0
    assert first.meta["l2_category"].startswith("finegrained_perception")
    assert "Hint: A small picture." in first.question
    assert "Hint" not in loaded.records[3].question  # hint "nan" is no hint
    # Rotated copies reference row 0's image by index: they share the decoded file.
    assert _images(first) == _images(rotated)
    with Image.open(loaded.root / _images(first)[0]) as img:
        assert img.getpixel((0, 0)) == (255, 0, 0)
    for r in loaded.records:
        validate_media(r, loaded.root)


def test_mmbench_hf_parquet_schema(data_dir, tmp_path, kit):
    src = tmp_path / "hf"
    row = {
        "index": 7,
        "question": "Which is a fruit?",
        "hint": None,
        "A": "apple",
        "B": "chair",
        "C": "nan",
        "D": "nan",
        "answer": "A",
        "category": "object_localization",
        "image": kit.image_struct("green"),
        "source": "x",
        "L2-category": "reasoning",
        "comment": None,
        "split": "dev",
    }
    kit.write_parquet(src / "mmbench" / "en" / "dev-00000-of-00001.parquet", [row])
    (rec,) = load_benchmark("mmbench_en", src, tmp_path / "cache").records
    assert rec.meta["choices"] == ["apple", "chair"] and rec.answer == "A"
    assert rec.meta["l2_category"] == "reasoning"


def test_missing_data_says_where_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="huggingface-cli download --repo-type dataset Lin-Chen/MMStar"):
        load_benchmark("mmstar", tmp_path / "nothing", tmp_path / "cache")


def test_mmstar_parses_inline_options_with_commas(tmp_path, kit):
    question = "Which option describes the scene?\nOptions: A: a cat, and a dog, B: a bird, C: a fish, D: none"
    row = {
        "index": 3,
        "question": question,
        "image": kit.image_struct(),
        "answer": "A",
        "category": "coarse perception",
        "l2_category": "image scene and topic",
        "meta_info": {"source": "SEEDBench", "split": "val"},
    }
    kit.write_parquet(tmp_path / "d" / "mmstar" / "mmstar.parquet", [row])
    (rec,) = load_benchmark("mmstar", tmp_path / "d", tmp_path / "cache").records
    assert rec.meta["choices"] == ["a cat, and a dog", "a bird", "a fish", "none"]
    assert rec.question.startswith("Which option describes the scene?\nOptions:\nA. a cat, and a dog")
    assert split_inline_options("no options here") is None


def test_blink_reads_each_subtask_and_its_images(tmp_path, kit):
    for task in ("Counting", "Jigsaw"):
        row = {
            "idx": f"val_{task}_1",
            "question": "How many?",
            "sub_task": task,
            "image_1": kit.image_struct("red"),
            "image_2": kit.image_struct("blue") if task == "Jigsaw" else None,
            "image_3": None,
            "image_4": None,
            "choices": ["1", "2", "3"],
            "answer": "(B)",
            "prompt": "...",
            "explanation": "",
        }
        kit.write_parquet(tmp_path / "d" / "blink" / task / "val-00000-of-00001.parquet", [row])
    loaded = load_benchmark("blink", tmp_path / "d", tmp_path / "cache")
    assert [(r.meta["sub_task"], r.answer, len(_images(r))) for r in loaded.records] == [
        ("Counting", "B", 1),
        ("Jigsaw", "B", 2),
    ]


def test_muirbench_places_option_images_at_their_tags(tmp_path, kit):
    row = {
        "idx": "q9",
        "task": "Image-Text Matching",
        "image_relation": "Similar",
        "image_type": ["photo"],
        "question": "Which picture matches <image>?",
        "options": ["<image>", "<image>"],
        "answer": "B",
        "image_list": [kit.image_struct(c) for c in ("red", "green", "blue")],
        "counterpart_idx": None,
    }
    kit.write_parquet(tmp_path / "d" / "muirbench" / "data" / "test-00000-of-00001.parquet", [row])
    (rec,) = load_benchmark("muirbench", tmp_path / "d", tmp_path / "cache").records
    parts = rec.messages[0]["content"]
    kinds = [p["type"] for p in parts]
    assert kinds == ["text", "image", "text", "image", "text", "image", "text"]
    assert parts[3]["image"].endswith("q9-1.png") and parts[5]["image"].endswith("q9-2.png")
