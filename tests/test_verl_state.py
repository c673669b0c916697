"""RLCS state files for the verl plug-ins (plain thinkvl; the plug-ins themselves are tested in tests_verl/)."""

from __future__ import annotations

import pytest

from thinkvl.integrations.verl.state import get_curriculum, load_state, register_curriculum, save_state
from thinkvl.rl.curriculum import CurriculumSampler


def test_newest_state_before_the_resumed_step_is_loaded(tmp_path) -> None:
    for step in (2, 4, 6, 8):
        save_state(tmp_path, step, {"step": step}, keep_last=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"global_step_{s}.json" for s in (4, 6, 8)]
    assert load_state(tmp_path, before_step=7) == (6, {"step": 6})
    assert load_state(tmp_path, before_step=4) is None
    assert load_state(tmp_path / "missing", before_step=9) is None
    (tmp_path / "global_step_9.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable RLCS state"):
        load_state(tmp_path, before_step=10)


def test_curricula_are_shared_by_name() -> None:
    sampler = CurriculumSampler(["a", "b"])
    register_curriculum("shared-test", sampler)
    assert get_curriculum("shared-test") is sampler and get_curriculum("other") is None
