"""Generation: sampling parameters, engines and forced answering, shared by RL rollouts, evaluation and chat.

A transformers engine for CPU or one GPU here; vLLM in `thinkvl.model.vllm_engine`.

Forced answering (report §5, `thinkvl.model.forcing`): a thought cut at ``thinking_budget`` is closed with a
marker and answered within ``answer_budget`` more tokens; the rollout records that it was forced, so the reward
is earned by the answer and never zeroed by truncation. Evaluation uses the same mechanism.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from thinkvl.data.record import Record, content_parts
from thinkvl.model import tokens as T
from thinkvl.model.bundle import Bundle, stop_token_ids
from thinkvl.model.chat import render_prompt
from thinkvl.model.forcing import check_budgets, finish_reason, force_marker_text, marker_ids, splice, thought_cut
from thinkvl.model.processor import encode
from thinkvl.model.tokens import ANSWER_BUDGET, NEVER_GENERATED, THINKING_BUDGET


@dataclass
class SamplingParams:
    n: int = 1  # responses per record (the group size G in RL)
    temperature: float = 1.0
    top_p: float = 1.0  # the report: top-p < 1 garbled outputs late in RL
    thinking_budget: int = THINKING_BUDGET  # tokens before a thought is cut and the answer forced
    answer_budget: int = ANSWER_BUDGET  # tokens allowed after forcing
    force_marker: str = "think_close"  # or "end_of_solution"
    greedy: bool = False
    thinking: bool = True

    def __post_init__(self) -> None:
        force_marker_text(self.force_marker)
        check_budgets(self.thinking_budget, self.answer_budget)
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")


@dataclass
class Rollout:
    record_id: str
    text: str  # the response as the reward system reads it (forcing marker included)
    response_ids: list[int] = field(default_factory=list)  # generated + forced tokens, in order
    logprobs: list[float] = field(default_factory=list)  # the sampler's log-prob of each token (0 for forced ones)
    action_mask: list[int] = field(default_factory=list)  # 1: sampled by the policy; 0: appended by forcing
    forced: bool = False
    truncated: bool = False  # ran out of budget while answering (not forced, just long)


def merge_forced(
    record_id: str,
    thought: list[int],
    thought_lp: list[float],
    marker: list[int],
    answer: list[int],
    answer_lp: list[float],
    stopped: bool,
) -> Rollout:
    """A forced rollout: the cut thought, the marker (not sampled: mask 0), and the answer."""
    ids, logprobs, mask = splice(thought, marker, answer, thought_lp, answer_lp)
    return Rollout(record_id, "", ids, logprobs or [], mask, forced=True, truncated=not stopped)


class RolloutEngine(Protocol):
    def generate(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[Rollout]:
        """``params.n`` rollouts per record, grouped by record in input order."""
        ...


def modality(record: Record) -> str:
    """Batches are kept to one modality: transformers' glm4v can't place features for images and videos mixed."""
    kinds = {p.get("type") for m in record.messages for p in content_parts(m["content"])}
    return "video" if "video" in kinds else "image" if "image" in kinds else "text"


def suppressed_token_ids(tokenizer: Any) -> list[int]:
    """The ids of `NEVER_GENERATED` in this tokenizer."""
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in NEVER_GENERATED if t in vocab]


# Longest generation that gets a static KV cache under cache="auto".
STATIC_CACHE_MAX_NEW = 512


def media_counts(record: Record) -> tuple[int, int]:
    """(images, videos) in a record's messages: the processor gives each one grid row."""
    kinds = [p.get("type") for m in record.messages for p in content_parts(m["content"])]
    return kinds.count("image"), kinds.count("video")


VISUAL_KEYS = (("image", "pixel_values", "image_grid_thw", 0), ("video", "pixel_values_videos", "video_grid_thw", 1))


def encodes_visual_once(model: Any) -> bool:
    """True when ``generate`` takes pre-computed vision features (``mm_encoder_outputs``, transformers ≥ 5.25)."""
    return "mm_encoder_outputs" in inspect.signature(model.forward).parameters


def gather_visual(inputs: Any, counts: list[tuple[int, int]], rows: list[int], model: Any = None) -> dict[str, Any]:
    """The images and videos of batch rows that each copy a prompt of ``inputs`` (``rows[i]``: the prompt of row
    i; ``counts``: each prompt's (images, videos)). With a ``model`` the vision encoder runs once per prompt and
    its features are copied (``mm_encoder_outputs``): G rollouts of a prompt cost one ViT pass, not G. Without
    one, the pixels are copied. The grids are always copied: every row needs them for its 3D positions."""
    out: dict[str, Any] = {}
    features: dict[str, BaseModelOutputWithPooling] = {}
    for kind, pixels, grid, index in VISUAL_KEYS:
        if inputs.get(grid) is None:
            continue
        grids = torch.split(inputs[grid], [c[index] for c in counts])
        out[grid] = torch.cat([grids[r] for r in rows])
        if model is None:
            chunks = torch.split(inputs[pixels], [int(g.prod(-1).sum()) for g in grids])
            out[pixels] = torch.cat([chunks[r] for r in rows])
            continue
        encoder = model.model.get_image_features if kind == "image" else model.model.get_video_features
        per_item = encoder(inputs[pixels].to(model.device), inputs[grid].to(model.device), return_dict=True)
        starts = [0]
        for g in grids:
            starts.append(starts[-1] + len(g))
        pooled = per_item.pooler_output
        features[kind] = BaseModelOutputWithPooling(
            pooler_output=tuple(f for r in rows for f in pooled[starts[r] : starts[r + 1]])
        )
    if features:
        out["mm_encoder_outputs"] = features
    return out


def repeat_rows(inputs: Any, counts: list[tuple[int, int]], n: int, model: Any = None) -> dict[str, Any]:
    """Every row of a processor batch ``n`` times in a row, with its images and videos (`gather_visual`)."""
    out = {k: inputs[k].repeat_interleave(n, dim=0) for k in ("input_ids", "attention_mask", "mm_token_type_ids")}
    return out | gather_visual(inputs, counts, [r for r in range(len(counts)) for _ in range(n)], model)


class TransformersEngine:
    """Batched `generate` with a KV cache; each sequence stops at its own end token."""

    def __init__(self, bundle: Bundle, batch_size: int = 16, cache: Literal["auto", "static", "dynamic"] = "auto"):
        if cache not in ("auto", "static", "dynamic"):
            raise ValueError(f"cache must be auto, static or dynamic, got {cache!r}")
        self.bundle = bundle
        self.batch_size = batch_size
        self.cache = cache  # auto: static up to STATIC_CACHE_MAX_NEW new tokens, dynamic beyond
        self.tokenizer = bundle.tokenizer
        self.tokenizer.padding_side = "left"
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        self.suppressed = suppressed_token_ids(self.tokenizer)

    @torch.no_grad()
    def generate(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[Rollout]:
        by_kind: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            by_kind[modality(r)].append(i)
        out: dict[int, list[Rollout]] = {}
        for indices in by_kind.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                rollouts = self._generate_batch([records[i] for i in chunk], root, params)
                for i, rs in zip(chunk, rollouts):
                    out[i] = rs
        return [r for i in range(len(records)) for r in out[i]]

    def _visual_encoder(self) -> Any:
        """The model, for `gather_visual` to encode each prompt's images once; None where generate can't take it."""
        return self.bundle.model if encodes_visual_once(self.bundle.model) else None

    def _sample(
        self, inputs: dict[str, Any], max_new: int, params: SamplingParams
    ) -> tuple[list[list[int]], list[list[float]]]:
        """New tokens per sequence and their log-probs under the sampling distribution actually used."""
        gen = dict(
            max_new_tokens=max_new,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
            use_cache=True,
            suppress_tokens=self.suppressed,
        )
        # A preallocated cache written in place: no per-step torch.cat of every layer's keys and values (the same
        # tokens; ~5% less CPU per rollout step on the tiny model, benchmarks/README.md). But every step attends
        # over the whole preallocated length, so it is kept to short budgets.
        static = self.cache == "static" or (self.cache == "auto" and max_new <= STATIC_CACHE_MAX_NEW)
        if static:
            gen["cache_implementation"] = "static"
            # transformers sizes a static cache at the longest length any earlier call on this model needed (to
            # spare torch.compile a recompile; we don't compile). Then a call's padded length, and the last bits of
            # its log-probs, depend on what the process generated before: a resumed RL run drifts from an
            # uninterrupted one. Forgetting it sizes each call's cache by its own need.
            vars(self.bundle.model).pop("_previous_max_cache_length", None)
        if params.greedy:
            gen.update(do_sample=False, temperature=None, top_p=None)
        else:
            gen.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
        device = self.bundle.model.device
        inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
        out = self.bundle.model.generate(**inputs, **gen, return_dict_in_generate=True, output_scores=True)
        new = out.sequences[:, inputs["input_ids"].shape[1] :]  # [B·n, steps]
        scores = torch.stack(out.scores, dim=1).float()  # [B·n, steps, vocab], after temperature and masking
        logprobs = torch.log_softmax(scores, dim=-1).gather(-1, new[..., None])[..., 0]
        return new.tolist(), logprobs.tolist()

    def _trim(self, ids: list[int], logprobs: list[float]) -> tuple[list[int], list[float], bool]:
        """Cut after the first stop token (kept); True when a stop token was reached."""
        for k, t in enumerate(ids):
            if t in self.stop_ids:
                return ids[: k + 1], logprobs[: k + 1], True
        return ids, logprobs, False

    def _generate_batch(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[list[Rollout]]:
        prompts = [render_prompt(r.messages, thinking=params.thinking) for r in records]
        # Each prompt is encoded once and its rows repeated n times in the batch (not num_return_sequences, whose
        # expansion of video inputs is broken for glm4v in transformers 5.24); where transformers takes the vision
        # features themselves, the ViT runs once per prompt too.
        inputs = encode(self.bundle.processor, prompts, [r.messages for r in records], root, padding=True)
        inputs = repeat_rows(inputs, [media_counts(r) for r in records], params.n, self._visual_encoder())
        first, first_lp = self._sample(inputs, params.thinking_budget, params)
        close_id = self.tokenizer.convert_tokens_to_ids(T.THINK_CLOSE)
        results: list[list[Rollout]] = [[] for _ in records]
        to_force: list[tuple[int, list[int], list[float]]] = []
        for k, (ids, lps) in enumerate(zip(first, first_lp)):
            r = k // params.n
            ids, lps, stopped = self._trim(ids, lps)
            finish = finish_reason(ids, budget=params.thinking_budget, stop_ids=self.stop_ids)
            if not (params.thinking and thought_cut(ids, finish, close=close_id)):
                rollout = Rollout(records[r].id, "", ids, lps, [1] * len(ids), truncated=not stopped)
                results[r].append(rollout)
            else:
                to_force.append((r, ids, lps))
        if to_force:
            self._force_answers(records, root, prompts, to_force, params, results)
        for group in results:
            for ro in group:
                ro.text = self.tokenizer.decode(ro.response_ids, skip_special_tokens=False)
        return results

    def _force_answers(
        self,
        records: list[Record],
        root: str | Path,
        prompts: list[str],
        to_force: list[tuple[int, list[int], list[float]]],
        params: SamplingParams,
        results: list[list[Rollout]],
    ) -> None:
        """Close over-long thoughts with the marker and let the model answer (one more generate call)."""
        marker = marker_ids(self.tokenizer, params.force_marker)
        for start in range(0, len(to_force), self.batch_size):
            chunk = to_force[start : start + self.batch_size]
            inputs = self._continuation_inputs(records, root, prompts, [(r, ids + marker) for r, ids, _ in chunk])
            answers, answer_lps = self._sample(inputs, params.answer_budget, params)
            for (r, ids, lps), answer, alp in zip(chunk, answers, answer_lps):
                answer, alp, stopped = self._trim(answer, alp)
                results[r].append(merge_forced(records[r].id, ids, lps, marker, answer, alp, stopped))

    def _continuation_inputs(
        self, records: list[Record], root: str | Path, prompts: list[str], items: list[tuple[int, list[int]]]
    ) -> dict[str, Any]:
        """Prompt ids + exact continuation ids (never re-tokenised text), left-padded, with the prompts' images
        (each prompt encoded once however many of its rollouts continue)."""
        prompt_of = list(dict.fromkeys(r for r, _ in items))
        encoded = [encode(self.bundle.processor, [prompts[r]], [records[r].messages], root) for r in prompt_of]
        rows, types = [], []
        for r, cont in items:
            enc = encoded[prompt_of.index(r)]
            rows.append(torch.cat([enc["input_ids"][0], torch.tensor(cont, dtype=torch.long)]))
            types.append(torch.cat([enc["mm_token_type_ids"][0], torch.zeros(len(cont), dtype=torch.long)]))
        length = max(len(x) for x in rows)
        input_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mm_types = torch.zeros((len(rows), length), dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, (ids, ty) in enumerate(zip(rows, types)):
            input_ids[i, length - len(ids) :], mm_types[i, length - len(ids) :], mask[i, length - len(ids) :] = (
                ids,
                ty,
                1,
            )
        visual = {}
        for _, pixels, grid, _ in VISUAL_KEYS:
            parts = [(e[pixels], e[grid]) for e in encoded if e.get(grid) is not None]
            if parts:
                visual[pixels], visual[grid] = torch.cat([p for p, _ in parts]), torch.cat([g for _, g in parts])
        counts = [media_counts(records[r]) for r in prompt_of]
        shared = gather_visual(visual, counts, [prompt_of.index(r) for r, _ in items], self._visual_encoder())
        return {"input_ids": input_ids, "attention_mask": mask, "mm_token_type_ids": mm_types, **shared}


def make_generate(engine: RolloutEngine, *, answer_budget: int = ANSWER_BUDGET, thinking: bool = True):
    """The ``generate(records, root, thinking_budget) -> texts`` callable the evaluation runner takes: greedy,
    with the same forced-answering mechanism as RL as its thinking budget. A budget of None is no cap: the model
    may think up to its context length."""

    def generate(records: list[Record], root: Path, budget: int | None) -> list[str]:
        params = SamplingParams(
            n=1,
            greedy=True,
            thinking=thinking,
            thinking_budget=context_length(engine) if budget is None else max(1, budget),
            answer_budget=answer_budget,
        )
        return [r.text for r in engine.generate(records, root, params)]

    return generate


def context_length(engine: RolloutEngine) -> int:
    """The engine's model's context length in tokens: the only cap on an uncapped thought."""
    config = getattr(getattr(getattr(engine, "bundle", None), "model", None), "config", None)
    text = config.get_text_config() if config is not None else None
    length = getattr(text, "max_position_embeddings", None)
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"{type(engine).__name__} doesn't say its context length: give a thinking budget")
    return length
