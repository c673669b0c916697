"""The curriculum shared by `RLCSDataset` and `RLCSReplayBuffer`, and its state on disk.

verl builds the dataset and the replay buffer separately in the trainer (driver) process; they meet here, in one
process-wide registry keyed by name. The replay buffer writes the curriculum and expansion state after every
step as ``rlcs_state/global_step_<k>.json`` beside verl's checkpoints, and a resumed run reads the newest state
at or before its step. No verl import: this module is plain thinkvl.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from thinkvl.data.loaders import atomic_write_text
from thinkvl.rl.curriculum import CurriculumSampler

_LOCK = threading.Lock()
_CURRICULA: dict[str, CurriculumSampler] = {}
STATE_DIR = "rlcs_state"
_STEP_FILE = re.compile(r"global_step_(\d+)\.json$")


def register_curriculum(name: str, curriculum: CurriculumSampler) -> None:
    """Make ``curriculum`` the one the replay buffer of the same ``name`` updates."""
    with _LOCK:
        _CURRICULA[name] = curriculum


def get_curriculum(name: str) -> CurriculumSampler | None:
    with _LOCK:
        return _CURRICULA.get(name)


def save_state(state_dir: str | Path, global_steps: int, state: dict[str, Any], keep_last: int = 3) -> Path:
    """Write one step's state atomically and drop all but the newest ``keep_last`` files."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"global_step_{int(global_steps)}.json"
    atomic_write_text(path, json.dumps(state))
    steps = sorted(_steps_in(folder))
    for old in steps[:-keep_last] if keep_last > 0 else []:
        (folder / f"global_step_{old}.json").unlink(missing_ok=True)
    return path


def load_state(state_dir: str | Path, before_step: int) -> tuple[int, dict[str, Any]] | None:
    """The newest saved state with step < ``before_step`` (what a run resuming at ``before_step`` continues)."""
    folder = Path(state_dir)
    if not folder.is_dir():
        return None
    steps = [s for s in _steps_in(folder) if s < before_step]
    if not steps:
        return None
    step = max(steps)
    path = folder / f"global_step_{step}.json"
    try:
        return step, json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"unreadable RLCS state {path}: {err}") from err


def _steps_in(folder: Path) -> list[int]:
    return [int(m.group(1)) for p in folder.iterdir() if (m := _STEP_FILE.search(p.name))]
