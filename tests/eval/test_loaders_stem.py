"""STEM loaders: MMMU and MMMU-Pro (parquet), AI2D, MathVista (GitHub JSON and HF parquet), WeMath."""

from __future__ import annotations

import pytest

from thinkvl.eval.loaders import load_benchmark
from thinkvl.eval.loaders.stem import wemath_options
from thinkvl.eval.media import MissingMediaError


def _kinds(record):
    return [p["type"] for p in record.messages[0]["content"]]


def _mmmu_row(kit, **kw):
    row = {
        "id": "validation_Art_Theory_3",
        "question": "Compare <image 1> with <image 2>. Which is older?",
        "options": "['The first', 'The second']",
        "explanation": "",
        "image_1": kit.image_struct("red"),
        "image_2": kit.image_struct("blue"),
        **{f"image_{i}": None for i in range(3, 8)},
        "img_type": "['Paintings']",
        "answer": "B",
        "topic_difficulty": "Medium",
        "question_type": "multiple-choice",
        "subfield": "Art History",
    }
    return {**row, **kw}


def test_mmmu_options_literal_images_in_place_and_open_answers(tmp_path, kit):
    rows = [
        _mmmu_row(kit),
        _mmmu_row(
            kit,
            id="validation_Art_Theory_4",
            question="How many figures are in <image 1>?",
            options="[]",
            image_2=None,
            answer="['24/7', '3.429']",
            question_type="open",
        ),
    ]
    kit.write_parquet(tmp_path / "d" / "mmmu" / "Art_Theory" / "validation-00000-of-00001.parquet", rows)
    mc, open_ = load_benchmark("mmmu", tmp_path / "d", tmp_path / "cache").records
    assert mc.domain == "choice" and mc.meta["choices"] == ["The first", "The second"] and mc.answer == "B"
    assert _kinds(mc) == ["text", "image", "text", "image", "text"]  # images where <image n> stood
    assert mc.meta["subject"] == "Art_Theory"
    assert open_.domain == "vqa" and open_.answer == ["24/7", "3.429"]


def test_mmmu_pro_standard_and_vision_with_a_malformed_row_listed(tmp_path, kit):
    std = [
        {
            **_mmmu_row(kit, id="test_History_1", options="[['A', 'B', 'Not enough information']]", answer="C"),
            "subject": "History",
        },
        {**_mmmu_row(kit, id="test_CS_61", options=str([f"o{i}" for i in range(12)]), answer="A"), "subject": "CS"},
    ]
    kit.write_parquet(tmp_path / "d" / "mmmu_pro" / "standard (10 options)" / "test-00000-of-00001.parquet", std)
    vision = [
        {
            "id": "test_History_1",
            "image": kit.image_struct(),
            "options": "['x', 'y', 'z']",
            "answer": "C",
            "subject": "History",
        }
    ]
    kit.write_parquet(tmp_path / "d" / "mmmu_pro" / "vision" / "test-00000-of-00001.parquet", vision)
    loaded = load_benchmark("mmmu_pro", tmp_path / "d", tmp_path / "cache")
    assert [(r.id, r.meta["subset"]) for r in loaded.records] == [
        ("standard:test_History_1", "standard"),
        ("vision:test_History_1", "vision"),
    ]
    assert loaded.records[0].meta["choices"] == ["A", "B", "Not enough information"]  # nested list unwrapped
    assert _kinds(loaded.records[1]) == ["image", "text"]
    assert len(loaded.skipped) == 1 and "12 options" in loaded.skipped[0]


def test_ai2d_gold_index_becomes_a_letter(tmp_path, kit):
    rows = [
        {
            "question": "Which stage comes first?",
            "options": ["egg", "larva", "adult"],
            "answer": "0",
            "image": kit.image_struct(),
        }
    ]
    kit.write_parquet(tmp_path / "d" / "ai2d" / "data" / "test-00000-of-00001.parquet", rows)
    (rec,) = load_benchmark("ai2d", tmp_path / "d", tmp_path / "cache").records
    assert rec.answer == "A" and rec.meta["choices"] == ["egg", "larva", "adult"]


def test_mathvista_json_with_images_in_place(data_dir, tmp_path, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/2.jpg", "images/3.jpg"])
    loaded = load_benchmark("mathvista", data_dir, tmp_path / "cache")
    assert loaded.root == data_dir / "mathvista"  # files are referenced where they are, not copied
    mc, integer, flt = loaded.records
    assert (mc.domain, mc.answer, mc.meta["answer_text"]) == ("choice", "B", "45°")
    assert mc.meta["skills"] == ["geometry reasoning", "algebraic reasoning"]
    assert (integer.domain, integer.answer) == ("math", "3") and "Answer with an integer." in integer.question
    assert flt.meta["precision"] == 2 and "2 decimal places" in flt.question


def test_mathvista_missing_image_is_a_clear_error_or_a_listed_skip(data_dir, tmp_path, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/3.jpg"])
    with pytest.raises(MissingMediaError, match=r"item mathvista-2: file not found: .*images/2\.jpg \(images/"):
        load_benchmark("mathvista", data_dir, tmp_path / "cache")
    loaded = load_benchmark("mathvista", data_dir, tmp_path / "cache", on_missing="skip")
    assert [r.id for r in loaded.records] == ["mathvista-1", "mathvista-3"]
    assert len(loaded.skipped) == 1 and "images/2.jpg" in loaded.skipped[0]


def test_mathvista_hf_parquet_uses_decoded_image(tmp_path, kit):
    row = {
        "pid": "9",
        "question": "What is x?",
        "image": "images/9.jpg",
        "decoded_image": kit.image_struct(),
        "choices": None,
        "unit": None,
        "precision": 1.0,
        "answer": "2.5",
        "question_type": "free_form",
        "answer_type": "float",
        "metadata": {"category": "math-targeted-vqa", "skills": ["algebraic reasoning"]},
        "query": "Hint: ...",
    }
    kit.write_parquet(tmp_path / "d" / "mathvista" / "data" / "testmini-00000-of-00001.parquet", [row])
    (rec,) = load_benchmark("mathvista", tmp_path / "d", tmp_path / "cache").records
    assert rec.answer == "2.5" and rec.meta["category"] == "math-targeted-vqa"
    assert rec.messages[0]["content"][0]["image"].startswith("images/mathvista-9")


def test_wemath_groups_steps_of_one_problem(data_dir, tmp_path, kit):
    kit.add_images(data_dir / "wemath", ["testmini/12-1.png", "testmini/12-2.png", "testmini/12-multi.png"])
    records = load_benchmark("wemath", data_dir, tmp_path / "cache").records
    assert [(r.meta["group"], r.meta["steps"], r.meta["step"], r.answer) for r in records] == [
        ("12", "2steps", "1", "B"),
        ("12", "2steps", "2", "A"),
        ("12", "2steps", "multi", "A"),
    ]
    assert records[0].meta["choices"] == ["7", "12", "14", "No correct answer"]
    with pytest.raises(ValueError, match="don't parse"):
        wemath_options("7, 12, 14")
