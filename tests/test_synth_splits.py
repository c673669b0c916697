"""Splits are disjoint by content (pixels + question + answer), not by seed: the guarantees the demo relies on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import FAMILIES, generate, plan, write_dataset
from thinkvl.data.synth import writer as synth_writer
from thinkvl.data.synth.splits import content_key, dataset_keys, split_stats
from thinkvl.data.synth.writer import draw_samples
from thinkvl.demo import DemoConfig, demo_splits


def _keys_by_domain(jobs, seed, taken=None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for (domain, _level, _slot), _sample, key in draw_samples(jobs, seed, taken):
        out.setdefault(domain, []).append(key)
    return out


def test_demo_sized_splits_share_no_item_with_training_and_repeat_none():
    """The demo's own domains, levels, sizes and seeds, drawn the way `write_dataset` draws them (in memory)."""
    cfg = DemoConfig()
    taken: set[str] = set()
    keys = {}
    for split in demo_splits(cfg):
        assert set(split["exclude"]) <= set(keys)  # what a split excludes is written before it
        levels = split.get("levels", cfg.levels)
        keys[split["name"]] = _keys_by_domain(plan(cfg.domains, split["n"], levels), split["seed"], taken)
    train = {k for ks in keys["train"].values() for k in ks}
    for name in ("heldout", "rl"):
        for domain in cfg.domains:
            mine = keys[name][domain]
            assert len(mine) == dict(heldout=cfg.n_eval, rl=cfg.n_rl)[name]
            assert len(set(mine)) == len(mine), (name, domain)
            assert not set(mine) & train, (name, domain)
    assert not {k for ks in keys["rl"].values() for k in ks} & {k for ks in keys["heldout"].values() for k in ks}
    for domain in cfg.domains:
        assert len(set(keys["train"][domain])) == cfg.n_train


def test_the_rl_pool_takes_the_trained_levels_unless_given_its_own():
    def rl_levels(cfg: DemoConfig) -> object:
        return next(s for s in demo_splits(cfg) if s["name"] == "rl")["levels"]

    assert rl_levels(DemoConfig(levels=(0, 1))) == (0, 1)
    assert rl_levels(DemoConfig(levels=(0,), rl_levels=(0, 1, 2))) == (0, 1, 2)


def test_two_seeds_at_the_demo_level_rarely_draw_the_same_item():
    """Without any exclusion, a held-out-sized draw of another seed repeats at most 1% of a training-sized one:
    the generators' spaces are large, so exclusion is a guarantee, not the only thing keeping the splits apart."""
    cfg = DemoConfig()
    train = _keys_by_domain(plan(cfg.domains, cfg.n_train, cfg.levels), 0)
    other = _keys_by_domain(plan(cfg.domains, 2 * cfg.n_eval, cfg.levels), 1)
    for domain in cfg.domains:
        same = sum(k in set(train[domain]) for k in other[domain])
        assert same <= 0.01 * len(other[domain]), (domain, same)


@pytest.mark.parametrize("level", [1, 2])
def test_harder_levels_rarely_repeat_across_seeds(level):
    for domain in FAMILIES:
        a = {content_key(s.frames or [s.image], s.question, s.answer) for s in _samples(domain, level, 0, 40)}
        b = [content_key(s.frames or [s.image], s.question, s.answer) for s in _samples(domain, level, 1, 40)]
        assert sum(k in a for k in b) == 0, domain


def _samples(domain, level, seed, n):
    return [generate(domain, level, slot, seed) for slot in range(n)]


DOMS = ["counting", "video", "ocr"]


def test_exclusion_is_exact_under_a_forced_collision(tmp_path: Path):
    """The same seed again collides on every item; excluding the first dataset re-draws them all, keeps the count
    and the answer classes, and leaves 0 identical items."""
    first = write_dataset(tmp_path / "a", DOMS, n=6, seed=0, levels=[0])
    again = write_dataset(tmp_path / "same", DOMS, n=6, seed=0, levels=[0])
    assert split_stats(tmp_path / "same", tmp_path / "a")["all"]["identical_to_reference"] == 18  # the collision
    second = write_dataset(tmp_path / "b", DOMS, n=6, seed=0, levels=[0], exclude=[tmp_path / "a"])
    assert len(second) == len(first) == len(again) == 18
    assert [r.id for r in second] == [r.id for r in first]
    assert [r.answer for r in second] == [r.answer for r in first]  # balanced classes survive the re-draw
    assert all(r.meta.get("redraw", 0) >= 1 for r in second)
    a, b = dataset_keys(tmp_path / "a"), dataset_keys(tmp_path / "b")
    assert not set(a.values()) & set(b.values()) and len(set(b.values())) == len(b)
    stats = split_stats(tmp_path / "b", tmp_path / "a")
    assert stats["all"] == {"items": 18, "distinct": 18, "identical_to_reference": 0, "answers_in_reference": 1.0}
    assert set(stats) == {"counting", "video", "ocr", "all"}
    # Re-writing with the same exclusion gives the same records: the re-draw is deterministic.
    third = write_dataset(tmp_path / "c", DOMS, n=6, seed=0, levels=[0], exclude=[tmp_path / "a"])
    assert dataset_keys(tmp_path / "c") == b and [r.to_dict() for r in third] == [r.to_dict() for r in second]


def test_duplicates_within_a_split_are_redrawn_and_an_exhausted_space_is_a_clear_error(tmp_path, monkeypatch):
    real = synth_writer.generate
    # A generator that ignores the slot: every slot is the same item unless re-drawn.
    monkeypatch.setattr(synth_writer, "generate", lambda d, lv, slot, seed, attempt: real(d, lv, 0, seed, attempt))
    records = write_dataset(tmp_path / "d", ["chart"], n=5, seed=0, levels=[0])
    keys = dataset_keys(tmp_path / "d")
    assert len(records) == 5 and len(set(keys.values())) == 5
    assert [r.meta.get("redraw", 0) for r in records] == [0, 1, 2, 3, 4]
    monkeypatch.setattr(synth_writer, "generate", lambda d, lv, slot, seed, attempt: real(d, lv, 0, seed, 0))
    with pytest.raises(ValueError, match="re-draws are taken"):
        write_dataset(tmp_path / "e", ["chart"], n=2, seed=0, levels=[0])
    assert not (tmp_path / "e" / "records.jsonl").exists()
    with pytest.raises(ValueError, match="cannot exclude the dataset being written"):
        write_dataset(tmp_path / "d", ["chart"], n=2, seed=0, levels=[0], exclude=[tmp_path / "d"])


def test_split_stats_report_repeats_and_answer_overlap(tmp_path: Path):
    write_dataset(tmp_path / "t", ["chart"], n=8, seed=0, levels=[0])
    records = load_records(tmp_path / "t").records
    stats = split_stats(tmp_path / "t", tmp_path / "t")
    assert stats["chart"]["identical_to_reference"] == 8 and stats["chart"]["distinct"] == 8
    assert stats["chart"]["answers_in_reference"] == 1.0
    assert Counter(r.answer for r in records) == Counter({1: 2, 2: 2, 3: 2, 4: 2})
