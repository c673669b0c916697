"""thinkvl's reward in verl's own reward loop: verl's naive manager strips the format tags (every response
scores 0); `ThinkvlRewardManager`, loaded through verl's config path, rewards the correct response."""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import OmegaConf
from tensordict import TensorDict
from verl import DataProto
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
from verl.trainer.ppo.reward import load_reward_manager

from thinkvl.integrations.verl.reward_manager import ThinkvlRewardManager, decode_keeping_tags
from thinkvl.model import tokens as T
from thinkvl.reward.adapters import compute_score


def _batch(tokenizer, responses: list[str], ground_truth: str = "7") -> DataProto:
    """Left-padded prompts and right-padded responses with their attention mask, as verl's rollout builds them."""
    pad = tokenizer.pad_token_id
    prompt = tokenizer.encode("<|user|>\nHow many circles?<|assistant|>\n", add_special_tokens=False)
    eos = tokenizer.convert_tokens_to_ids(T.USER)
    encoded = [tokenizer.encode(r, add_special_tokens=False) + [eos] for r in responses]
    width = max(map(len, encoded)) + 3
    prompts = torch.tensor([[pad] * 2 + prompt] * len(responses))
    resp = torch.tensor([ids + [pad] * (width - len(ids)) for ids in encoded])
    mask = torch.cat(
        [
            torch.tensor([[0] * 2 + [1] * len(prompt)] * len(responses)),
            torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in encoded]),
        ],
        dim=1,
    )
    n = len(responses)
    return DataProto(
        batch=TensorDict({"prompts": prompts, "responses": resp, "attention_mask": mask}, batch_size=n),
        non_tensor_batch={
            "data_source": np.array(["counting"] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": ground_truth}] * n, dtype=object),
            "extra_info": np.array([{"index": i} for i in range(n)], dtype=object),
        },
    )


def _config():
    return OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {"path": None, "name": "compute_score"},
                "reward_manager": {
                    "source": "importlib",
                    "name": "ThinkvlRewardManager",
                    "module": {"path": "pkg://thinkvl.integrations.verl.reward_manager", "name": "x"},
                },
            }
        }
    )


def _scores(manager, data: DataProto) -> list[dict]:
    return [manager.loop.run_until_complete(manager.run_single(data[i : i + 1])) for i in range(len(data))]


def test_verl_naive_manager_strips_the_tags_and_scores_zero(tokenizer, respond) -> None:
    # What a user gets with verl's own manager: the decoded text has lost <think>, <answer> and the box.
    data = _batch(tokenizer, [respond("7"), respond("5")])
    naive = NaiveRewardManager(_config(), tokenizer, compute_score)
    results = _scores(naive, data)
    assert [r["reward_score"] for r in results] == [0.0, 0.0]
    assert [r["reward_extra_info"]["format_ok"] for r in results] == [False, False]


def test_thinkvl_manager_through_verl_config_rewards_the_correct_response(tokenizer, respond) -> None:
    data = _batch(tokenizer, [respond("7"), respond("5"), "7"])
    manager = load_reward_manager(_config(), tokenizer)
    assert isinstance(manager, ThinkvlRewardManager)
    results = _scores(manager, data)
    assert [r["reward_score"] for r in results] == [1.0, 0.0, 0.0]
    assert [r["reward_extra_info"]["acc"] for r in results] == [True, False, False]
    assert [r["reward_extra_info"]["format_ok"] for r in results] == [True, True, False]  # plain "7": no format


def test_decode_keeps_tags_and_drops_padding_and_stop_tokens(tokenizer, respond) -> None:
    text = respond("7")
    ids = tokenizer.encode(text, add_special_tokens=False)
    stop = [tokenizer.convert_tokens_to_ids(t) for t in (T.USER, T.END_OF_TEXT)]
    assert decode_keeping_tags(tokenizer, ids + stop + [tokenizer.pad_token_id] * 3) == text


def test_custom_compute_score_from_config_is_used(tokenizer, respond) -> None:
    calls = []

    def constant(data_source, solution_str, ground_truth, extra_info=None, **_):
        calls.append(solution_str)
        return 0.25

    manager = ThinkvlRewardManager(_config(), tokenizer, constant)
    result = _scores(manager, _batch(tokenizer, [respond("7")]))[0]
    assert result == {"reward_score": 0.25, "reward_extra_info": {"acc": 0.25}}
    assert calls == [respond("7")]  # the tags reach the custom function too
