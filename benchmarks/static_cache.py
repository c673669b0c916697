"""Static-cache rollouts sized per call (ours) against transformers' remembered longest size: tokens/s and ratio.

Why: transformers sizes a `generate` call's static KV cache at the longest length any earlier call on the same
model needed (it spares torch.compile a recompile). The transformers engine forgets that length before each call
(`TransformersEngine._sample`), so that a call's arithmetic does not depend on what the process generated before
(a resumed RL run then matches an uninterrupted one). This measures what that costs or saves: the same records are
rolled out by the same engine, once as it is and once with transformers' remembering restored (a wrapper that sets
the model's `_previous_max_cache_length` to the longest seen before each call), in one process, alternating which
side goes first each round.

    python benchmarks/static_cache.py                                   # fresh tiny model, 3 rounds
    python benchmarks/static_cache.py --model runs/demo/sft/model --data runs/demo/data/heldout
    python benchmarks/static_cache.py --quick                           # a smoke run

The records mix video and image prompts (the engine batches each modality apart; video prompts are the longest), as
the demo's RL pool and held-out set do. Greedy decoding, the demo's budgets (thinking 64, answer 24). Prints each
run's generated tokens/s, the median per side, the ratio per-call / remembered, and whether both sides generated
the same tokens. Simplification: the remembered length starts at the longest call of a warm-up pass over the same
records, as in a long run where every kind of call has happened once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import add_model_and_data_arguments, add_threads_argument, alternating, model_and_records

from thinkvl.model import load_bundle
from thinkvl.model.generate import SamplingParams, TransformersEngine


def remembering(model: Any) -> dict[str, int]:
    """Make ``model.generate`` size static caches as transformers does by default: at the longest length of any
    earlier call. The engine clears the length before each call; the wrapper puts the remembered one back."""
    state = {"longest": -1}
    generate = model.generate

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        model._previous_max_cache_length = state["longest"]
        out = generate(*args, **kwargs)
        state["longest"] = max(state["longest"], getattr(model, "_previous_max_cache_length", -1))
        return out

    model.generate = wrapped
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_and_data_arguments(ap, 96, "records rolled out per run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="12 records, 1 round")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.quick:
        args.records, args.rounds = 12, 1
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="static_cache."))
    model_dir, data = model_and_records(args.model, args.data, args.records, tmp)
    records = data.records[: args.records]
    params = SamplingParams(n=1, greedy=True, thinking_budget=64, answer_budget=24)

    engines = {}
    for name in ("per-call", "remembered"):
        bundle = load_bundle(model_dir, dtype=torch.float32)
        bundle.model.eval()
        if name == "remembered":
            remembering(bundle.model)
        engines[name] = TransformersEngine(bundle, batch_size=32, cache="static")
        engines[name].generate(records, data.root, params)  # warm-up: first-call allocations, the longest length
    print(f"model {model_dir}, {len(records)} records, greedy, {args.rounds} rounds, {args.threads} thread(s)")
    speed: dict[str, list[float]] = {name: [] for name in engines}
    tokens: dict[str, list[list[int]]] = {}
    for rnd, name in alternating(list(engines), args.rounds):
        t0 = time.perf_counter()
        rollouts = engines[name].generate(records, data.root, params)
        dt = time.perf_counter() - t0
        n = sum(len(r.response_ids) for r in rollouts)
        speed[name].append(n / dt)
        tokens[name] = [r.response_ids for r in rollouts]
        print(f"round {rnd + 1} {name:>10}: {n} tokens in {dt:.2f} s = {n / dt:,.0f} tokens/s")
    ours, theirs = statistics.median(speed["per-call"]), statistics.median(speed["remembered"])
    same = sum(a == b for a, b in zip(tokens["per-call"], tokens["remembered"]))
    print(f"same tokens: {same} of {len(records)} records")
    print(
        f"median tokens/s: per-call {ours:,.0f}, remembered {theirs:,.0f}"
        f"; ratio per-call/remembered {ours / theirs:.2f}x"
    )


if __name__ == "__main__":
    main()
