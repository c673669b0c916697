"""Writing synthetic datasets, `thinkvl data synth` / `thinkvl data show`, and the contact sheet."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thinkvl.data import synth
from thinkvl.data.loaders import load_records
from thinkvl.data.synth import writer
from thinkvl.data.synth.commands import add_commands
from thinkvl.data.synth.show import contact_sheet, pick_examples, summary_table


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="thinkvl data")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_write_dataset_is_loadable_and_reproducible(tmp_path: Path):
    a = synth.write_dataset(tmp_path / "a", domains=["counting", "video"], n=6, seed=4)
    b = synth.write_dataset(tmp_path / "b", domains=["counting", "video"], n=6, seed=4)
    assert len(a) == 12 and [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert (tmp_path / "a/records.jsonl").read_bytes() == (tmp_path / "b/records.jsonl").read_bytes()
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    loaded = load_records(tmp_path / "a", check_media=True)  # every path is relative, exists and decodes
    assert [r.to_dict() for r in loaded] == [r.to_dict() for r in a]
    video = next(r for r in loaded if r.domain == "video")
    part = video.messages[0]["content"][0]
    assert part["type"] == "video" and part["fps"] == 2.0 and len(part["video"]) == 8
    assert all(not Path(p).is_absolute() for _, p in video.media())


def test_a_level_subset_gives_the_same_records(tmp_path: Path):
    full = {r.id: r.to_dict() for r in synth.write_dataset(tmp_path / "all", domains=["math"], n=9, seed=1)}
    only = synth.write_dataset(tmp_path / "l2", domains=["math"], n=3, seed=1, levels=[2])
    assert [r.difficulty for r in only] == [2, 2, 2]
    assert all(full[r.id] == r.to_dict() for r in only)


def test_levels_can_differ_per_domain():
    jobs = writer.plan(["chart", "math", "ocr"], 4, {"chart": [0, 1], "math": [2]})
    levels = {d: [lv for dom, lv, _ in jobs if dom == d] for d in ("chart", "math", "ocr")}
    assert levels == {"chart": [0, 1, 0, 1], "math": [2, 2, 2, 2], "ocr": [0, 1, 2, 0]}  # ocr: not listed, all
    with pytest.raises(ValueError, match="not asked for: \\['video'\\]"):
        writer.plan(["chart"], 2, {"video": [0]})
    with pytest.raises(ValueError, match="levels of domain 'math' must not be empty"):
        writer.plan(["math"], 2, {"math": []})
    with pytest.raises(ValueError, match="has levels 0–2; asked for \\[3\\]"):
        writer.plan(["chart"], 2, {"chart": [3]})


def test_a_crash_never_leaves_a_complete_looking_records_file(tmp_path: Path, monkeypatch):
    synth.write_dataset(tmp_path, domains=["chart"], n=3)
    assert (tmp_path / "records.jsonl").exists()
    real, calls = writer.generate, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 4:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "generate", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        synth.write_dataset(tmp_path, domains=["chart", "ocr"], n=3, seed=7)
    assert not (tmp_path / "records.jsonl").exists()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".records.jsonl*"))


def test_cli_synth_then_show_with_contact_sheet(tmp_path: Path, capsys):
    out = tmp_path / "ds"
    assert run(["synth", "--domains", "counting,chart,video", "--n", "6", "--seed", "2", "--out", str(out)]) == 0
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 18 and {json.loads(x)["domain"] for x in lines} == {"counting", "chart", "video"}
    capsys.readouterr()
    sheet = tmp_path / "sheet.png"
    assert run(["show", str(out), "--contact-sheet", str(sheet), "--per-domain", "3", "--check-media"]) == 0
    shown = capsys.readouterr().out
    assert "counting" in shown and "video" in shown and "L2" in shown and "18 records" in shown
    with Image.open(sheet) as img:
        img.load()
        assert img.width > 3 * 160 and img.height > 3 * 160
        assert np.asarray(img.convert("L")).std() > 20  # not a blank page


def test_cli_rejects_bad_requests(tmp_path: Path, capsys):
    with pytest.raises(SystemExit):
        run(["synth", "--domains", "counting,poetry", "--out", str(tmp_path)])
    assert "poetry" in capsys.readouterr().err
    assert run(["synth", "--domains", "ocr", "--levels", "0,5", "--out", str(tmp_path)]) == 2
    assert "levels 0–2" in capsys.readouterr().err
    assert run(["show", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "records.jsonl").write_text('{"id": "x", "domain": "counting", "messages": [], "answer": 1}\n')
    assert run(["show", str(bad)]) == 2
    assert "record 'x'" in capsys.readouterr().err


def test_summary_counts_and_majority_share(tmp_path: Path):
    records = synth.write_dataset(tmp_path, domains=["choice"], n=9, levels=[0])
    table = summary_table(records)
    cells = {col.header: list(col.cells) for col in table.columns}
    assert cells["L0"] == ["9"] and cells["total"] == ["9"] and cells["answers"] == ["3"]
    assert cells["majority"] == ["33%"]


def test_contact_sheet_shows_every_level_of_every_domain(tmp_path: Path):
    records = synth.write_dataset(tmp_path, n=6, seed=0)
    picks = pick_examples(records, 3)
    assert set(picks) == set(synth.FAMILIES)
    assert all(sorted(r.difficulty for r in rs) == [0, 1, 2] for rs in picks.values())
    out = contact_sheet(records, tmp_path, tmp_path / "sheet.png", per_domain=3)
    with Image.open(out) as img:
        assert img.height >= 7 * 160
    with pytest.raises(ValueError, match="no records"):
        contact_sheet([], tmp_path, tmp_path / "empty.png")


def test_cli_synth_exclude_keeps_other_datasets_items_out(tmp_path: Path, capsys):
    from thinkvl.data.synth.splits import dataset_keys

    base = ["synth", "--domains", "choice,grounding", "--n", "6", "--levels", "0", "--seed", "0"]
    assert run([*base, "--out", str(tmp_path / "a")]) == 0
    assert run([*base, "--out", str(tmp_path / "b"), "--exclude", str(tmp_path / "a")]) == 0
    a, b = dataset_keys(tmp_path / "a"), dataset_keys(tmp_path / "b")
    assert len(b) == 12 and not set(a.values()) & set(b.values())
    assert run([*base, "--out", str(tmp_path / "c"), "--exclude", str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err
