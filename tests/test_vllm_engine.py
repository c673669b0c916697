"""What of the vLLM engine runs without a GPU: request building and its clear error when vLLM is absent."""

import importlib.util

import numpy as np
import pytest

from thinkvl.data.record import Record
from thinkvl.model.generate import SamplingParams, merge_forced
from thinkvl.model.vllm_engine import VLLMEngine, build_requests


def test_requests_carry_prompt_images_and_video_metadata(image_dir):
    frames = [f"frame{i}.png" for i in range(4)]
    records = [
        Record(
            "i",
            "vqa",
            [{"role": "user", "content": [{"type": "image", "image": "red.png"}, {"type": "text", "text": "colour?"}]}],
            "red",
        ),
        Record(
            "v",
            "video",
            [
                {
                    "role": "user",
                    "content": [{"type": "video", "video": frames, "fps": 2.0}, {"type": "text", "text": "when?"}],
                }
            ],
            1,
        ),
    ]
    image_req, video_req = build_requests(records, image_dir, SamplingParams(thinking=False))
    assert image_req["prompt"].endswith("colour?<|assistant|>\n<think></think>")
    assert image_req["multi_modal_data"]["image"].size == (112, 84)
    frames_array, meta = video_req["multi_modal_data"]["video"][0]
    assert isinstance(frames_array, np.ndarray) and frames_array.shape == (4, 56, 56, 3)
    assert meta["fps"] == 2.0 and meta["frames_indices"] == [0, 1, 2, 3]


def test_forced_rollouts_mask_the_marker():
    r = merge_forced("x", [5, 6], [-1.0, -2.0], [9, 10], [7], [-0.5], stopped=True)
    assert r.response_ids == [5, 6, 9, 10, 7] and r.action_mask == [1, 1, 0, 0, 1]
    assert r.logprobs == [-1.0, -2.0, 0.0, 0.0, -0.5] and r.forced and not r.truncated


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="checks the error raised without vLLM")
def test_missing_vllm_is_a_clear_error(tiny_bundle):
    with pytest.raises(ImportError, match="engine: transformers"):
        VLLMEngine(tiny_bundle)
