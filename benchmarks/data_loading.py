"""Streaming training data vs the in-memory path: loader throughput, time to first step and peak memory by size.

Why: the supervised trainer used to read, encode and pack every record before its first step, so start-up time
and memory grew with the corpus. The streaming path (`thinkvl.train.stream`) encodes in DataLoader workers and
packs a bounded buffer of ``--buffer`` records at a time; its start-up and memory should be flat in corpus size,
and its packs/s should stay above what the trainer consumes (steps/s × batch) for the tiny model.

Data: small synthetic SFT records (one 56×56 image of 8, a question of 4–40 words, a short reasoning), written
once as records.jsonl; the 1k and 10k sets are the first lines of the 100k one. One tiny model (saved once) serves
every side, so no side trains a tokenizer.

1. Throughput, in this process: records/s and packs/s of the stream with 0, 1 and 2 workers over the first
   ``3 × --buffer`` records of the 10k set, and the trainer's packs/s (tiny model, ``--batch`` packs of
   ``--pack-len`` per AdamW step, 3 timed steps after a warm-up).
2. Time to first step and peak memory: one child process per (path, size). Time to first step = from reading
   the data to holding the first batch of packs (the model is loaded before the clock starts); data memory = the
   peak of the summed PSS of the process and its DataLoader workers (sampled every 50 ms), minus the PSS with
   the model loaded. The in-memory path (load_records → build_sample for every record → pack → the first
   permuted batch, as `run_stage` did) runs at the sizes it handles (``--memory-sizes``).

    python benchmarks/data_loading.py                          # sizes 1k, 10k, 100k; in-memory at 1k, 10k
    python benchmarks/data_loading.py --sizes 1000 --memory-sizes 1000 --buffer 500   # a smoke run

Simplifications: synthetic records of one shape; the stream runs with 1 worker in part 2; a loaded shared
machine slows every side (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from common import add_threads_argument
from PIL import Image

WORDS = "how many red circles are there in the picture left of the blue square above chart bar value".split()


def write_records(root: Path, n: int) -> None:
    """n small SFT records with images, as records.jsonl (written line by line: flat memory)."""
    rng = random.Random(0)
    for k in range(8):
        Image.new("RGB", (56, 56), (30 * k, 255 - 30 * k, 90)).save(root / f"img{k}.png")
    with (root / "records.jsonl").open("w") as f:
        for i in range(n):
            question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40))) + "?"
            content = [{"type": "image", "image": f"img{i % 8}.png"}, {"type": "text", "text": question}]
            record = {
                "id": f"r{i:07d}",
                "domain": ("counting", "chart", "vqa")[i % 3],
                "messages": [{"role": "user", "content": content}],
                "answer": i % 10,
                "meta": {"reasoning": f"I count {i % 10}.", "answer_text": "The answer is"},
            }
            f.write(json.dumps(record) + "\n")


def head(src: Path, dst: Path, n: int) -> None:
    dst.mkdir(exist_ok=True)
    for p in src.glob("*.png"):
        if not (dst / p.name).exists():
            os.link(p, dst / p.name)
    with (src / "records.jsonl").open() as fin, (dst / "records.jsonl").open("w") as fout:
        for _, line in zip(range(n), fin, strict=False):
            fout.write(line)


def pss_mb(pid: int | str = "self") -> float:
    """Proportional set size: pages shared with forked DataLoader workers are counted once in a sum."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0  # the process just ended


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


class PeakMemory:
    """Samples this process's and its workers' total PSS every 50 ms; ``peak`` is the largest sum seen."""

    def __init__(self) -> None:
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            before = children(me)
            total = pss_mb() + sum(pss_mb(c) for c in before)
            if children(me) == before:  # a fork mid-sample would count the shared pages one and a half times
                self.peak = max(self.peak, total)
            time.sleep(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def stream(data: Path, bundle, args: argparse.Namespace, workers: int):
    from thinkvl.data.loaders import check_source, resolve_source
    from thinkvl.train.stream import Encoder, PackStream

    source = resolve_source(str(data))
    check_source(source)
    encoder = Encoder(source.root, bundle.processor, bundle.model, "sft")
    return PackStream(source, encoder, pack_len=args.pack_len, buffer=args.buffer, num_workers=workers)


def child(args: argparse.Namespace) -> None:
    """One (path, size) measurement: print {ttfs_s, peak_mb, base_mb}."""
    from thinkvl.model import load_bundle

    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model_dir)
    base = pss_mb()
    memory = PeakMemory()
    t0 = time.perf_counter()
    if args.child == "stream":
        s = stream(args.data, bundle, args, workers=1)
        it = iter(s)
        batch = [next(it) for _ in range(args.batch)]
        ttfs = time.perf_counter() - t0
        peak = memory.stop()
        s.close()
    else:
        from thinkvl.data.loaders import load_records
        from thinkvl.train.packing import pack
        from thinkvl.train.samples import build_sample

        dataset = load_records(args.data)
        samples = [build_sample(r, dataset.root, bundle.processor, bundle.model, "sft") for r in dataset]
        packs, _ = pack(samples, args.pack_len)
        order = torch.randperm(len(packs), generator=torch.Generator().manual_seed(0))
        batch = [packs[int(i)] for i in order[: args.batch]]
        ttfs = time.perf_counter() - t0
        peak = memory.stop()
    assert len(batch) == args.batch
    print(json.dumps({"ttfs_s": ttfs, "peak_mb": peak, "base_mb": base}))


def throughput(args: argparse.Namespace, bundle, data: Path) -> None:
    from thinkvl.train.loss import token_loss_sum
    from thinkvl.train.packing import collate_packed

    print(f"\n## Loader throughput (first {3 * args.buffer:,} records of the 10k set, buffer {args.buffer})\n")
    print("| workers | records/s | packs/s | records/pack |")
    print("|---|---|---|---|")
    packs_s = {}
    for workers in (0, 1, 2):
        s = stream(data, bundle, args, workers)
        t0, records, packs, batch = time.perf_counter(), 0, 0, []
        for p in s:
            records += len(p)
            packs += 1
            if len(batch) < args.batch:
                batch.append(p)
            if s.position["start"] >= 3 * args.buffer or s.position["epoch"] > 0:
                break
        dt = time.perf_counter() - t0
        s.close()
        packs_s[workers] = packs / dt
        print(f"| {workers} | {records / dt:,.0f} | {packs / dt:,.1f} | {records / packs:.1f} |", flush=True)
    model = bundle.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for k in range(4):
        t0 = time.perf_counter()
        loss, n = token_loss_sum(model, collate_packed(batch, bundle.tokenizer.pad_token_id))
        (loss / n).backward()
        opt.step()
        opt.zero_grad()
        if k:
            times.append(time.perf_counter() - t0)
    need = args.batch / (sum(times) / len(times))
    print(
        f"\nTrainer (tiny, {args.batch} packs of {args.pack_len} per step): {need:.2f} packs/s consumed. "
        f"Loader/trainer packs/s: " + ", ".join(f"{w} workers {packs_s[w] / need:.1f}×" for w in packs_s)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--memory-sizes", type=int, nargs="+", default=[1_000, 10_000], help="sizes for the in-memory path")
    ap.add_argument("--buffer", type=int, default=1000, help="pack_buffer of the stream (records)")
    ap.add_argument("--pack-len", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8, help="packs per step")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--child", choices=["stream", "memory"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.child:
        return child(args)
    torch.set_num_threads(args.threads)
    from thinkvl.model import create_bundle, save_bundle

    print(f"load average before: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = tmp / f"n{max(args.sizes)}"
        full.mkdir()
        write_records(full, max(args.sizes))
        for n in {*args.sizes, *args.memory_sizes, 10_000} - {max(args.sizes)}:
            head(full, tmp / f"n{n}", n)
        bundle = create_bundle("tiny", seed=0)
        save_bundle(bundle, tmp / "model")
        if not args.skip_throughput:
            throughput(args, bundle, tmp / ("n10000" if max(args.sizes) >= 10_000 else f"n{max(args.sizes)}"))
        print(f"\n## Time to first step and peak memory (stream: buffer {args.buffer}, 1 worker)\n")
        print(
            "| records | stream: first step s | stream: data MB | in-memory: first step s | in-memory: data MB "
            "| in-memory/stream: time, memory |"
        )
        print("|---|---|---|---|---|---|")
        for n in sorted(set(args.sizes) | set(args.memory_sizes)):
            row, got = [], {}
            for side in ("stream", "memory"):
                if side == "memory" and n not in args.memory_sizes or side == "stream" and n not in args.sizes:
                    row += ["–", "–"]
                    continue
                cmd = [sys.executable, __file__, "--child", side, "--data", str(tmp / f"n{n}"), "--model-dir"]
                cmd += [str(tmp / "model"), "--buffer", str(args.buffer), "--pack-len", str(args.pack_len)]
                cmd += ["--batch", str(args.batch), "--threads", str(args.threads)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                m = got[side] = json.loads(out)
                row += [f"{m['ttfs_s']:.1f}", f"{m['peak_mb'] - m['base_mb']:,.0f}"]
            if len(got) == 2:
                mem = [max(1.0, got[k]["peak_mb"] - got[k]["base_mb"]) for k in ("memory", "stream")]
                row.append(f"{got['memory']['ttfs_s'] / got['stream']['ttfs_s']:.1f}×, {mem[0] / mem[1]:.1f}×")
            else:
                row.append("–")
            print(f"| {n:,} | " + " | ".join(row) + " |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
