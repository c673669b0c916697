"""Group rollouts with the vision encoder run once per prompt (ours) against once per rollout: tokens/s and ratio.

Why: an RL group is G rollouts of one prompt. The transformers engine encodes the prompt once and repeats its rows
G times; before, it repeated the pixels too, so the ViT encoded every image G times in the first generate call of
the group and again for every forced answer. Where transformers' `generate` takes pre-computed features
(`mm_encoder_outputs`, 5.25 and later) the engine now runs the ViT once per prompt and copies its features
(`thinkvl.model.generate.gather_visual`). This measures both sides on the same records, in one process,
alternating which goes first each round, with the same sampling seed.

    python benchmarks/shared_vision.py                                   # fresh tiny model, 3 rounds
    python benchmarks/shared_vision.py --model runs/demo/sft/model --data runs/demo/data/rl
    python benchmarks/shared_vision.py --quick                           # a smoke run

The demo's RL settings: G = 8, temperature 0.6, thinking budget 64, answer budget 24, 64 sequences per call. Prints
each run's generated tokens/s, the median per side, the ratio once / per-rollout, and on how many records both sides
sampled the same tokens (the ViT's arithmetic on one copy and on G copies can differ in the last bits, so a sampled
token may flip where two are nearly tied).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from common import add_model_and_data_arguments, add_threads_argument, alternating, model_and_records, timed_rollouts

from thinkvl.model import load_bundle
from thinkvl.model.generate import SamplingParams, TransformersEngine, encodes_visual_once


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_and_data_arguments(ap, 48, "prompts rolled out per run (G rollouts each)")
    ap.add_argument("--group", type=int, default=8, help="rollouts per prompt (G)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="6 prompts, 1 round")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.quick:
        args.records, args.rounds = 6, 1
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="shared_vision."))
    model_dir, data = model_and_records(args.model, args.data, args.records, tmp)
    records = data.records[:: max(1, len(data.records) // args.records)][: args.records]  # across the domains
    params = SamplingParams(n=args.group, temperature=0.6, thinking_budget=64, answer_budget=24)

    bundle = load_bundle(model_dir, dtype=torch.float32)
    bundle.model.eval()
    if not encodes_visual_once(bundle.model):
        raise SystemExit("this transformers' generate takes no mm_encoder_outputs (it needs 5.25 or later)")
    engines = {
        "once": TransformersEngine(bundle, batch_size=64),
        "per-rollout": TransformersEngine(bundle, batch_size=64),
    }
    engines["per-rollout"]._visual_encoder = lambda: None  # the pixels repeated, as before
    torch.manual_seed(0)
    engines["once"].generate(records[:2], data.root, params)  # warm-up: first-call allocations
    print(
        f"model {model_dir}, {len(records)} prompts x G={args.group}, T=0.6, {args.rounds} rounds,"
        f" {args.threads} thread(s)"
    )
    speed: dict[str, list[float]] = {name: [] for name in engines}
    tokens: dict[str, list[list[int]]] = {}
    for rnd, name in alternating(list(engines), args.rounds):
        rollouts, dt = timed_rollouts(engines[name], records, data.root, params, seed=rnd)
        n = sum(len(r.response_ids) for r in rollouts)
        speed[name].append(n / dt)
        tokens.setdefault(name, []).extend(r.response_ids for r in rollouts)
        print(f"round {rnd + 1} {name:>11}: {n} tokens in {dt:.2f} s = {n / dt:,.0f} tokens/s")
    ours, theirs = statistics.median(speed["once"]), statistics.median(speed["per-rollout"])
    same = sum(a == b for a, b in zip(tokens["once"], tokens["per-rollout"]))
    print(f"same tokens: {same} of {len(tokens['once'])} rollouts")
    print(f"median tokens/s: once {ours:,.0f}, per-rollout {theirs:,.0f}; ratio once/per-rollout {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
