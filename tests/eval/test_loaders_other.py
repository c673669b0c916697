"""Chart, OCR, document, grounding, GUI and coding loaders on fixtures in each dataset's schema."""

from __future__ import annotations

import pytest
from PIL import Image

from thinkvl.eval.loaders import load_benchmark
from thinkvl.eval.loaders.refcoco import xywh_to_norm1000
from thinkvl.eval.media import MissingMediaError


def test_chartqapro_conversation_becomes_chat_turns(tmp_path, kit):
    rows = [
        {
            "Question": ["What is the value in 2019?", "And in 2020?"],
            "Answer": ["12", "15"],
            "Question Type": "Conversational",
            "image": kit.png(),
            "Year": ["NO", "NO"],
            "Paragraph": "",
        },
        {
            "Question": ["In which year was it highest?"],
            "Answer": ["2016"],
            "Question Type": "Factoid",
            "image": kit.png(),
            "Year": ["YES"],
            "Paragraph": "Sales rose steadily.",
        },
    ]
    kit.write_parquet(tmp_path / "d" / "chartqapro" / "data" / "test-00000-of-00001.parquet", rows)
    conv, factoid = load_benchmark("chartqapro", tmp_path / "d", tmp_path / "cache").records
    assert [m["role"] for m in conv.messages] == ["user", "assistant", "user"]
    assert conv.answer == "15" and conv.meta["year_flags"] == ["NO"]
    assert conv.messages[1]["content"] == "12"
    assert factoid.meta == {"question_type": "Factoid", "year_flags": ["YES"]}
    assert factoid.question.startswith("Sales rose steadily.\n\nIn which year")


def test_chartmuseum_references_the_repository_images(tmp_path, kit):
    rows = [
        {
            "image": "images/c1.png",
            "question": "Which line ends highest?",
            "answer": "Blue",
            "reasoning_type": "Visual",
            "source": "pew",
            "hash": "abc123",
        }
    ]
    kit.write_parquet(tmp_path / "d" / "chartmuseum" / "data" / "test-00000-of-00001.parquet", rows)
    with pytest.raises(MissingMediaError, match="c1.png"):
        load_benchmark("chartmuseum", tmp_path / "d", tmp_path / "cache")
    kit.add_images(tmp_path / "d" / "chartmuseum", ["images/c1.png"])
    (rec,) = load_benchmark("chartmuseum", tmp_path / "d", tmp_path / "cache").records
    assert rec.id == "chartmuseum-abc123" and rec.messages[0]["content"][0]["image"] == "images/c1.png"


def test_chartqa_release_layout(data_dir, tmp_path, kit):
    kit.add_images(data_dir / "chartqa" / "test" / "png", ["41699051005347.png", "multi_col_1.png"])
    records = load_benchmark("chartqa", data_dir, tmp_path / "cache").records
    assert [r.answer for r in records] == ["14", "1.216666667", "Italy"]
    assert records[0].messages[0]["content"][0]["image"] == "test/png/41699051005347.png"


def test_ocrbench_json_with_images_under_ocrbench_images(data_dir, tmp_path, kit):
    rels = ["IIIT5K/test/918_1.png", "docVQA/val/xnbl0037_1.png", "HME100k/test/1.jpg", "ChartQA/test/png/1.png"]
    with pytest.raises(MissingMediaError, match="OCRBench_Images"):
        load_benchmark("ocrbench", data_dir, tmp_path / "cache")
    kit.add_images(data_dir / "ocrbench" / "OCRBench_Images", rels)
    records = load_benchmark("ocrbench", data_dir, tmp_path / "cache").records
    assert [r.id for r in records] == [
        "ocrbench-IIIT5K-2843",
        "ocrbench-docVQA-14",
        "ocrbench-HME100k-7001",
        "ocrbench-ChartQA-500",
    ]
    assert records[1].answer == ["May 3, 1999", "5/3/1999"]
    assert records[2].meta["dataset_name"] == "HME100k"


def test_mmlongbench_renders_pdf_pages_and_uses_prerendered_ones(data_dir, tmp_path):
    pages = [Image.new("RGB", (60, 80), c) for c in ("red", "green", "blue")]
    (data_dir / "mmlongbench_doc" / "documents").mkdir()
    pages[0].save(data_dir / "mmlongbench_doc" / "documents" / "report.pdf", save_all=True, append_images=pages[1:])
    loaded = load_benchmark("mmlongbench_doc", data_dir, tmp_path / "cache", options={"max_pages": 2})
    first, unanswerable = loaded.records
    images = [p["image"] for p in first.messages[0]["content"] if p["type"] == "image"]
    assert images == ["pages/report.pdf/0001.png", "pages/report.pdf/0003.png"]  # spread over the document
    with Image.open(loaded.root / images[1]) as img:
        r, g, b = img.convert("RGB").getpixel((30, 40))
        assert b > 200 and r < 50  # the third page is blue
    assert unanswerable.meta["answer_format"] == "None" and unanswerable.answer == "Not answerable"
    # Pre-rendered pages win over the PDF.
    pre = data_dir / "mmlongbench_doc" / "pages" / "report"
    pre.mkdir(parents=True)
    for n in (1, 2):
        Image.new("RGB", (10, 10), "white").save(pre / f"{n}.png")
    loaded = load_benchmark("mmlongbench_doc", data_dir, tmp_path / "cache2", limit=1)
    assert [p["image"] for p in loaded.records[0].messages[0]["content"] if p["type"] == "image"] == [
        "files/pages_report__1.png",
        "files/pages_report__2.png",
    ]


def test_refcoco_boxes_become_0_1000_corners_one_item_per_expression(tmp_path, kit):
    rows = [
        {
            "question_id": "42",
            "image": kit.image_struct(size=(200, 100)),
            "question": "",
            "answer": ["man on left", "guy in red"],
            "segmentation": [1.0, 2.0],
            "bbox": [20, 10, 60, 50],
            "iscrowd": 0,
            "file_name": "COCO_train2014_000000000042.jpg",
        }
    ]
    kit.write_parquet(tmp_path / "d" / "refcoco" / "data" / "val-00000-of-00001.parquet", rows)
    records = load_benchmark("refcoco", tmp_path / "d", tmp_path / "cache").records
    assert [r.id for r in records] == ["refcoco-42-0", "refcoco-42-1"]
    assert records[0].answer == [100.0, 100.0, 400.0, 600.0]
    assert 'Locate "guy in red"' in records[1].question
    assert xywh_to_norm1000([190, 90, 50, 50], 200, 100) == [950.0, 900.0, 1000.0, 1000.0]  # clipped


def test_gui_tasks_become_records_that_name_their_checker(data_dir, tmp_path):
    (task,) = load_benchmark("osworld", data_dir, tmp_path / "c").records
    assert task.domain == "gui" and task.answer["checker"]["func"] == "match_in_list"
    assert "Bing the main search engine" in task.question and task.meta["app"] == "chrome"
    web = load_benchmark("webvoyager", data_dir, tmp_path / "c").records
    assert [r.id for r in web] == ["webvoyager-Allrecipes--0", "webvoyager-GitHub--3"]
    (android,) = load_benchmark("androidworld", data_dir, tmp_path / "c").records
    assert android.meta["task"] == "ContactsAddContact"


def test_webquest_screenshots_and_design2code(data_dir, tmp_path, kit):
    kit.add_images(data_dir / "webquest", ["screenshots/s1.png", "screenshots/s2.png"])
    records = load_benchmark("webquest_single", data_dir, tmp_path / "c").records
    assert [(r.id, r.answer) for r in records] == [
        ("webquest-single_screen-s1", "499"),
        ("webquest-single_screen-s2", "Acme"),
    ]
    rows = [{"image": kit.image_struct(), "text": "<html><body><h1>Hi</h1></body></html>"}]
    kit.write_parquet(tmp_path / "d" / "design2code" / "data" / "train-00000-of-00001.parquet", rows)
    (rec,) = load_benchmark("design2code", tmp_path / "d", tmp_path / "c").records
    assert rec.answer.startswith("<html>") and "HTML" in rec.question


def test_refcoco_avg_reads_eight_splits_and_averages_them(tmp_path, kit):
    """RefCOCO-avg: every split of RefCOCO, RefCOCO+ and RefCOCOg, reported per split and as their mean."""
    from thinkvl.eval.registry import REFCOCO_SPLITS, get_benchmark
    from thinkvl.eval.runner import EvalConfig, run_eval

    def row(qid: str) -> dict:
        return {"question_id": qid, "image": kit.image_struct(size=(200, 100)), "answer": ["thing"],
                "bbox": [20, 10, 60, 50], "file_name": "x.jpg"}  # fmt: skip

    for k, (_, _, folder, split) in enumerate(REFCOCO_SPLITS):
        rows = [row("7"), row(f"8{k}")]  # the same question id in every split: ids must still be unique
        kit.write_parquet(tmp_path / "d" / folder / "data" / f"{split}-00000-of-00001.parquet", rows)
    bench = get_benchmark("refcoco_avg")
    assert bench.in_report and not get_benchmark("refcoco").in_report
    records = load_benchmark(bench, tmp_path / "d", tmp_path / "cache").records
    assert len(records) == 16 and len({r.id for r in records}) == 16
    assert {r.meta["subset"] for r in records} == {s[0] for s in REFCOCO_SPLITS}
    limited = load_benchmark(bench, tmp_path / "d", tmp_path / "cache", limit=8).records
    assert len({r.meta["subset"] for r in limited}) == 8  # a limit samples every split

    def right_in_refcoco_only(recs, root, budget):
        return [kit.respond(kit.box_of(r)) if r.meta["subset"].startswith("RefCOCO ") else kit.respond("[0, 0, 1, 1]")
                for r in recs]  # fmt: skip

    config = EvalConfig(tasks=["refcoco_avg"], data_dir=str(tmp_path / "d"))
    results = run_eval(config, right_in_refcoco_only, tmp_path / "run", progress=False)
    metric = results["benchmarks"]["refcoco_avg"]["budgets"]["none"]
    per_split = metric["breakdown"]["subset"]
    assert (
        len(per_split) == 8 and per_split["RefCOCO testA"]["value"] == 100.0 and per_split["RefCOCOg val"]["value"] == 0
    )
    assert metric["value"] == pytest.approx(100 * 3 / 8)  # the mean over splits


def test_flame_records_keep_the_style_sheet_beside_the_component(tmp_path, kit):
    rows = [
        {
            "problem_id": "000000007",
            "complexity_level": 2,
            "image": kit.image_struct(),
            "style": ".box { color: red; }",
            "component": "export default function App() { return <div className='box'>Hi</div>; }",
        }
    ]
    kit.write_parquet(tmp_path / "d" / "flame_react" / "data" / "test-00000-of-00001.parquet", rows)
    (rec,) = load_benchmark("flame_react", tmp_path / "d", tmp_path / "c").records
    assert rec.id == "flame-000000007" and rec.meta["complexity_level"] == "2"
    assert rec.answer == rows[0]["component"] and rec.meta["style"] == ".box { color: red; }"
    assert "// CSS" in rec.question and "// JavaScript XML (JSX)" in rec.question
