"""`RLCSDataset`: verl's RL dataset, with each prompt drawn by the RLCS curriculum's tier weights.

verl's dataloader walks indices with its own (random or sequential) sampler and no curriculum hook. This dataset
keeps that walk but answers position ``i`` with a record drawn from the curriculum: one weighted draw per fetch,
from a stream derived from the seed and the number of draws so far, so a run is reproducible. `RLCSReplayBuffer`
updates the same curriculum (through `state.register_curriculum`) after every step and re-sets the weights.

Each row carries ``rlcs_index`` (the drawn dataset position) so the replay buffer can credit each group's pass
rate to its record. Record ids are ``extra_info.id`` when the parquet has them, else the row position; offline
grades from ``thinkvl grade`` (its JSON-lines file) set the starting tiers.

Config (``data.rlcs`` holds `options.DatasetOptions`: `RLConfig`'s curriculum fields, with their defaults)::

    data.custom_cls: {path: pkg://thinkvl.integrations.verl.dataset, name: RLCSDataset}
    data.dataloader_num_workers: 0      # the curriculum lives in the trainer process
    data.rlcs: {curriculum_name: rlcs, grades: null, seed: 0, weight_floor: 0.05, pass_rate_ema_decay: 0.5}
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import get_worker_info
from verl.utils.dataset.rl_dataset import RLHFDataset

from thinkvl.integrations.verl.options import DatasetOptions, read_options
from thinkvl.integrations.verl.replay_buffer import INDEX_FIELD
from thinkvl.integrations.verl.state import register_curriculum
from thinkvl.rl.curriculum import read_grades


class RLCSDataset(RLHFDataset):
    """`RLHFDataset` whose rows come from curriculum-weighted draws."""

    def __init__(self, data_files: Any, tokenizer: Any, config: Any, processor: Any = None, max_samples: int = -1):
        super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)
        options = read_options(DatasetOptions, config.get("rlcs", None), "data.rlcs")
        self.curriculum_name = options.curriculum_name
        grades = read_grades(options.grades) if options.grades else None
        self.curriculum = options.curriculum_sampler(self._record_ids(), grades, options.seed)
        register_curriculum(self.curriculum_name, self.curriculum)

    def _record_ids(self) -> list[Any]:
        extra = self.dataframe["extra_info"] if "extra_info" in self.dataframe.column_names else None
        ids = [(e or {}).get("id") for e in extra] if extra is not None else []
        if ids and all(isinstance(i, (str, int)) for i in ids) and len(set(ids)) == len(ids):
            return ids
        return list(range(len(self.dataframe)))

    def __getitem__(self, item: int) -> dict:
        if get_worker_info() is not None:
            raise RuntimeError(
                "RLCSDataset draws from the live curriculum in the trainer process: set data.dataloader_num_workers=0"
            )
        drawn = self.curriculum.sample(1)[0]
        row = super().__getitem__(drawn)
        row[INDEX_FIELD] = drawn
        return row
