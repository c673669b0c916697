"""A vLLM rollout engine for GPUs, with weight sync from the trainer and the same forced answering.

Written against vLLM's offline `LLM` API (multi-modal prompts as ``{"prompt" | "prompt_token_ids",
"multi_modal_data"}``, ``SamplingParams(logprobs=0)`` for the sampled tokens' log-probs). NOT RUN in this
project's CI: vLLM needs a GPU. What runs on CPU is tested: the request building and the forced-answer
bookkeeping (`build_requests`, and `merge_forced` shared with the transformers engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thinkvl.data.record import Record
from thinkvl.model import tokens as T
from thinkvl.model.bundle import Bundle, stop_token_ids
from thinkvl.model.chat import render_prompt
from thinkvl.model.generate import Rollout, SamplingParams, merge_forced
from thinkvl.model.processor import load_media
from thinkvl.model.tokens import FORCE_ANSWER_TEXT


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


class VLLMEngine:
    """`RolloutEngine` on vLLM. ``sync_weights(model)`` copies the trainer's weights in before each rollout."""

    def __init__(self, bundle: Bundle, model_dir: str | Path | None = None, **llm_kwargs: Any):
        try:
            import vllm
        except ImportError as err:  # a GPU-only dependency
            raise ImportError(
                "engine: vllm needs `pip install vllm` and a GPU; use engine: transformers on CPU"
            ) from err
        self.vllm = vllm
        self.bundle = bundle
        self.tokenizer = bundle.tokenizer
        self.stop_ids = stop_token_ids(self.tokenizer)
        path = str(model_dir or bundle.model.config._name_or_path)
        self.llm = vllm.LLM(model=path, limit_mm_per_prompt={"image": 4, "video": 1}, **llm_kwargs)

    def sync_weights(self, model: Any) -> None:
        """Load the trainer's current parameters into the vLLM workers (colocated, same process group)."""
        weights = [(name, p.detach()) for name, p in model.state_dict().items()]

        def load(worker: Any) -> None:
            worker.model_runner.model.load_weights(weights=weights)

        self.llm.collective_rpc(load)
        self.llm.reset_prefix_cache()

    def _params(self, params: SamplingParams, max_tokens: int, n: int) -> Any:
        return self.vllm.SamplingParams(
            n=n,
            temperature=0.0 if params.greedy else params.temperature,
            top_p=params.top_p,
            max_tokens=max_tokens,
            stop_token_ids=self.stop_ids,
            logprobs=0,
            skip_special_tokens=False,
        )

    def generate(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[Rollout]:
        requests = build_requests(records, root, params)
        outputs = self.llm.generate(requests, self._params(params, params.thinking_budget, params.n), use_tqdm=False)
        close_id = self.tokenizer.convert_tokens_to_ids(T.THINK_CLOSE)
        marker = self.tokenizer.encode(FORCE_ANSWER_TEXT[params.force_marker], add_special_tokens=False)
        rollouts: list[Rollout] = []
        for record, request, output in zip(records, requests, outputs):
            for completion in output.outputs:
                ids = list(completion.token_ids)
                lps = [next(iter(d.values())).logprob for d in (completion.logprobs or [])]
                stopped = completion.finish_reason == "stop"
                if stopped or not params.thinking or close_id in ids:
                    rollouts.append(Rollout(record.id, "", ids, lps, [1] * len(ids), truncated=not stopped))
                    continue
                cont = {**request, "prompt_token_ids": list(output.prompt_token_ids) + ids + marker}
                cont.pop("prompt")
                answer = self.llm.generate([cont], self._params(params, params.answer_budget, 1), use_tqdm=False)
                a = answer[0].outputs[0]
                a_lp = [next(iter(d.values())).logprob for d in (a.logprobs or [])]
                rollouts.append(
                    merge_forced(record.id, ids, lps, marker, list(a.token_ids), a_lp, a.finish_reason == "stop")
                )
        for r in rollouts:
            r.text = self.tokenizer.decode(r.response_ids, skip_special_tokens=False)
        return rollouts
