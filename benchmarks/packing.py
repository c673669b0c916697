"""Packed vs padded-to-longest supervised training: real tokens/s of each, their ratio, and how full batches are.

Why: packing is only worth its complexity if it trains on more real tokens per second than the usual padded
batch. Both sides train the tiny preset (SFT stage) on the same built-in synthetic samples (all domains, levels
0 and 1), in one process, step by step interleaved in a rotating order so machine noise hits all sides
alike. Packs are made once over the whole sample set by first-fit-decreasing (as `thinkvl sft` does); step k's
samples are those of ``--packs-per-step`` packs, trained packed at ``--pack-len``, re-packed at each
``--also-pack-len``, and as one padded batch. Each side has its own copy of the model and its own AdamW; a step
is collate → forward → backward → optimizer step; the order of the sides rotates every step; step 0 is an
untimed warm-up.

    python benchmarks/packing.py                 # 24 records per domain, packs of 1024 (and 512), 8 timed steps
    python benchmarks/packing.py --quick         # 4 records per domain, 2 timed steps: a smoke run

Prints: real (non-padding) tokens/s of each side and packed/padded; the fraction of real tokens in the batches
each side actually ran; and packing's fill (real / slots) over the whole sample set for a sweep of pack lengths,
to show which ``pack_len`` reaches the 97% target on the built-in mix (also without the emptiest pack, which is
the tail of a finite set: that is the fill a large corpus approaches). Simplifications: synthetic data only; the
fill of a real corpus depends on its length distribution and size (the last pack is usually part-empty, so a
small sample set under-states the fill).
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
from common import add_threads_argument

from thinkvl.data.loaders import load_records
from thinkvl.data.synth.writer import write_dataset
from thinkvl.model import create_bundle
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, collate_padded, pack
from thinkvl.train.samples import build_sample
from thinkvl.train.trainer import dataset_corpus

SWEEP = (256, 512, 768, 1024, 1536, 2048, 4096)


def train_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, make_batch: Callable[[], dict]
) -> tuple[float, dict]:
    """One optimizer step on the batch ``make_batch()`` builds; returns (seconds, batch)."""
    start = time.perf_counter()
    batch = make_batch()
    loss, n = token_loss_sum(model, batch)
    (loss / max(1, n)).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start, batch


def real_fraction(batch: dict[str, torch.Tensor], real: int) -> float:
    return real / batch["input_ids"].numel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=24, help="records per domain (spread over levels 0 and 1)")
    ap.add_argument("--pack-len", type=int, default=1024)
    ap.add_argument("--also-pack-len", default="512", help="comma-separated extra pack lengths to time (same samples)")
    ap.add_argument("--packs-per-step", type=int, default=4, help="packs of --pack-len per step (sets the samples)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per side (after one warm-up step)")
    add_threads_argument(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="n=4, 2 timed steps, 1 pack per step")
    args = ap.parse_args()
    if args.quick:
        args.n, args.steps, args.packs_per_step = 4, 2, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tmp, n=args.n, seed=args.seed, levels=[0, 1])
        ds = load_records(tmp)
        bundle = create_bundle("tiny", corpus=dataset_corpus(ds), seed=args.seed)
        samples = [build_sample(r, ds.root, bundle.processor, bundle.model, "sft") for r in ds.records]
    lengths = [len(s) for s in samples]
    print(
        f"tiny preset ({bundle.num_parameters:,} params), torch {torch.__version__}, {args.threads} threads; "
        f"{len(samples)} SFT samples ({len({r.domain for r in ds.records})} domains, levels 0-1), "
        f"length min/median/max {min(lengths)}/{statistics.median(lengths):.0f}/{max(lengths)}"
    )

    pack_lens = [args.pack_len, *[int(x) for x in args.also_pack_len.split(",") if x.strip()]]
    packs, stats = pack(samples, args.pack_len)
    print(
        f"pack_len {args.pack_len}: {stats.packs} packs, fill {stats.fill:.2%}, "
        f"truncated {stats.truncated}, dropped {stats.dropped}"
    )
    rng = random.Random(args.seed)
    order = list(range(len(packs)))
    rng.shuffle(order)
    need = (args.steps + 1) * args.packs_per_step
    if need > len(packs):
        order = (order * (need // len(packs) + 1))[:need]  # epochs laid end to end, as the trainer does
    per = args.packs_per_step
    # Each step's samples are those of --packs-per-step packs at --pack-len; every side trains exactly them
    # (other pack lengths re-pack the same samples).
    step_samples = [[s for i in order[k * per : (k + 1) * per] for s in packs[i]] for k in range(args.steps + 1)]

    pad_id = bundle.tokenizer.pad_token_id
    sides = [f"packed@{n}" for n in pack_lens] + ["padded"]
    models = {side: copy.deepcopy(bundle.model).train() for side in sides}
    opts = {side: torch.optim.AdamW(m.parameters(), lr=1e-4) for side, m in models.items()}
    times: dict[str, list[float]] = {side: [] for side in sides}
    fills: dict[str, list[float]] = {side: [] for side in sides}
    real_tokens = 0
    for k, flat in enumerate(step_samples):
        real = sum(len(s) for s in flat)
        makers = {"padded": lambda fl=flat: collate_padded(fl, pad_id)}
        for n in pack_lens:
            makers[f"packed@{n}"] = lambda fl=flat, n=n: collate_packed(pack(fl, n)[0], pad_id)
        shapes = []
        # The order rotates every step so that no side always runs first (caches, other processes' load).
        for side in sides[k % len(sides) :] + sides[: k % len(sides)]:
            seconds, batch = train_step(models[side], opts[side], makers[side])
            shapes.append(f"{side} {'x'.join(map(str, batch['input_ids'].shape))}")
            if k > 0:
                times[side].append(seconds)
                fills[side].append(real_fraction(batch, real))
        if k > 0:
            real_tokens += real
        print(
            f"step {k}{' (warm-up)' if k == 0 else ''}: {len(flat)} samples, {real} real tokens; {', '.join(shapes)}",
            flush=True,
        )

    tps = {side: real_tokens / sum(t) for side, t in times.items()}
    print("\n== results (timed steps only) ==")
    for side in sides:
        print(
            f"{side:>12}: {tps[side]:8,.0f} real tokens/s   step time median {statistics.median(times[side]):6.2f} s   "
            f"real-token fraction of its batches {sum(fills[side]) / len(fills[side]):.1%}"
        )
    for side in sides[:-1]:
        per_step = [b / a for a, b in zip(times[side], times["padded"])]
        print(
            f"ratio {side}/padded: {tps[side] / tps['padded']:.2f}x "
            f"(per-step min/median/max {min(per_step):.2f}/{statistics.median(per_step):.2f}/{max(per_step):.2f})"
        )
    print("\n== packing fill over all samples by pack_len (target >= 97%) ==")
    for pack_len in sorted({*SWEEP, args.pack_len}):
        sweep_packs, st = pack(samples, pack_len)
        # The emptiest pack is the tail of a finite set; without it, the fill a large corpus would approach.
        used = sorted(sum(len(x) for x in p) for p in sweep_packs)[1:]
        body = sum(used) / (len(used) * pack_len) if used else float("nan")
        mark = "  >= 97%" if st.fill >= 0.97 else ""
        print(
            f"pack_len {pack_len:5d}: {st.packs:4d} packs, fill {st.fill:.2%} "
            f"(without the emptiest pack {body:.2%}), truncated {st.truncated}{mark}"
        )


if __name__ == "__main__":
    main()
