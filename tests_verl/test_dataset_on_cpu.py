"""`RLCSDataset`: verl's RL dataset answering each fetch with a curriculum-weighted draw."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pandas as pd
import pytest
from omegaconf import OmegaConf
from torch.utils.data import DataLoader
from verl.utils.dataset.rl_dataset import collate_fn

from thinkvl.integrations.verl.dataset import RLCSDataset
from thinkvl.integrations.verl.state import get_curriculum
from thinkvl.rl.curriculum import GradeEntry


def _parquet(tmp_path, n: int = 6) -> str:
    rows = [
        {
            "data_source": "counting",
            "prompt": [{"role": "user", "content": f"How many circles in picture {i}?"}],
            "reward_model": {"ground_truth": str(i)},
            "extra_info": {"id": f"rec{i}", "domain": "counting"},
        }
        for i in range(n)
    ]
    path = tmp_path / "train.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


def _config(name: str, grades: str | None = None):
    return OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 256,
            "filter_overlong_prompts": False,
            "truncation": "error",
            "return_raw_chat": True,
            "image_key": "images",
            "video_key": "videos",
            "cache_dir": "/tmp/rlcs-verl-cache",
            "rlcs": {"curriculum_name": name, "grades": grades, "seed": 0},
        }
    )


def test_draws_follow_the_curriculum_and_rows_carry_their_index(tmp_path, tokenizer) -> None:
    name = f"test-{uuid.uuid4().hex}"
    dataset = RLCSDataset(_parquet(tmp_path), tokenizer, _config(name))
    curriculum = get_curriculum(name)
    assert curriculum is dataset.curriculum and curriculum.ids == [f"rec{i}" for i in range(6)]
    # rec0 and rec1 mastered (very easy), rec2 medium, the rest not yet seen (medium weight)
    curriculum.update(["rec0", "rec1", "rec2"], [1.0, 1.0, 0.5])
    curriculum.reset_weights()
    counts = Counter()
    for i in range(600):
        row = dataset[i % len(dataset)]
        assert row["extra_info"]["id"] == f"rec{row['rlcs_index']}"  # the row is the drawn record
        counts[row["rlcs_index"]] += 1
    weights = curriculum.weights()
    expected = {i: 600 * float(weights[i] / weights.sum()) for i in range(6)}
    for i in range(6):
        assert abs(counts[i] - expected[i]) < 5 * expected[i] ** 0.5 + 3, (i, counts[i], expected[i])
    assert counts[0] + counts[1] < counts[2] + counts[3]


def test_same_seed_same_draws_and_grades_set_the_start(tmp_path, tokenizer) -> None:
    grades = tmp_path / "grades.jsonl"
    entry = GradeEntry(pass_rate=1.0, label=None, estimate=1.0, tier="very_easy").to_dict()
    grades.write_text("\n".join(json.dumps({"id": f"rec{i}", **entry}) for i in range(3)))  # as `thinkvl grade`
    first = RLCSDataset(_parquet(tmp_path), tokenizer, _config(f"a-{uuid.uuid4().hex}", str(grades)))
    second = RLCSDataset(_parquet(tmp_path), tokenizer, _config(f"b-{uuid.uuid4().hex}", str(grades)))
    draws = [first[i]["rlcs_index"] for i in range(50)]
    assert draws == [second[i]["rlcs_index"] for i in range(50)]
    assert first.curriculum.tier("rec0") == "very_easy" and first.curriculum.pass_rate("rec4") is None


def test_worker_processes_are_refused(tmp_path, tokenizer) -> None:
    dataset = RLCSDataset(_parquet(tmp_path), tokenizer, _config(f"w-{uuid.uuid4().hex}"))
    assert len(next(iter(DataLoader(dataset, batch_size=2, collate_fn=collate_fn)))["rlcs_index"]) == 2
    loader = DataLoader(dataset, batch_size=2, num_workers=1, collate_fn=collate_fn)
    with pytest.raises(RuntimeError, match="dataloader_num_workers=0"):
        next(iter(loader))


def test_rlcs_options_are_rl_configs_fields_and_typos_are_refused(tmp_path, tokenizer) -> None:
    config = _config(f"t-{uuid.uuid4().hex}")
    config.rlcs.curriculum = False  # RLConfig's switch: uniform tier weights
    assert set(RLCSDataset(_parquet(tmp_path), tokenizer, config).curriculum.tier_weights.values()) == {1.0}
    config.rlcs.floor = 0.1  # the key before it was RLConfig's weight_floor
    with pytest.raises(ValueError, match=r"data.rlcs: unknown key\(s\) floor; allowed: curriculum, curriculum_name"):
        RLCSDataset(_parquet(tmp_path), tokenizer, config)
