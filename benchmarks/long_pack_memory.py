"""Peak memory of a supervised step on long packs: full logits against the trainer's chunked LM head, on the CPU.

    python benchmarks/long_pack_memory.py                          # packs of 4K and 8K tokens, vocabulary 32,768
    python benchmarks/long_pack_memory.py --pack-len 2048 --vocab 151552

The tiny preset with its vocabulary resized (logits are what long packs make large: tokens × vocab), fp32,
activation checkpointing on as in the 9B configs, one pack per step, built by repeating the synthetic records
until it fills. Each (pack length, loss) runs in a fresh process; the figure is the step's peak resident memory
above what was resident before it (memory.py's measurement, third step), printed next to memory.py's estimate.
Simplifications: one process, the CPU allocator; a GPU's differs in fragmentation, not in what is alive.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_threads_argument  # noqa: E402
from memory import MB, estimate, measure, step_peak  # noqa: E402


def run(args: argparse.Namespace, pack_len: int, chunked: bool) -> tuple[int, float, int]:
    """(tokens, estimate bytes, measured bytes) of one step, in this (fresh) process."""
    torch.set_num_threads(args.threads)
    d, s, peak = measure("tiny", args.data, pack_len, 1, False, True, chunked=chunked, vocab=args.vocab)
    return s.tokens, step_peak(estimate(d, s)), peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack-len", type=int, nargs="+", default=[4096, 8192], help="tokens per pack")
    ap.add_argument("--vocab", type=int, default=32768, help="vocabulary size (the 9B's is 151,552)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/thinkvl_memory_data"), help="synthetic records dir")
    add_threads_argument(ap)
    args = ap.parse_args()
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:  # large blocks by mmap: freed memory leaves the RSS
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    from thinkvl.data.synth import write_dataset

    if not (args.data / "records.jsonl").is_file():
        write_dataset(args.data, domains=["counting", "chart", "choice"], n=6, seed=0, levels=[0])
    print(f"One SFT step, tiny preset with vocabulary {args.vocab:,}, fp32, activation checkpointing, 1 pack.\n")
    print("| pack tokens | full logits MB (estimate) | chunked head MB (estimate) | full ÷ chunked |")
    print("|---|---|---|---|")
    context = multiprocessing.get_context("spawn")
    for pack_len in args.pack_len:
        result = {}
        for chunked in (False, True):
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                result[chunked] = pool.submit(run, args, pack_len, chunked).result()
        (tokens, full_est, full), (_, chunk_est, chunk) = result[False], result[True]
        print(
            f"| {tokens:,} | {full / MB:,.0f} ({full_est / MB:,.0f}) | {chunk / MB:,.0f} ({chunk_est / MB:,.0f}) "
            f"| **{full / chunk:.1f}x** |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
