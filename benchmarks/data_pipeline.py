"""Data pipeline throughput and memory: each filter and the chain, 1 vs N worker processes; peak memory at N
and 10N records, streaming runner vs an in-memory baseline.

    python benchmarks/data_pipeline.py                 # 1,000 and 10,000 records, 2 workers
    python benchmarks/data_pipeline.py --n 500 --scale 10 --workers 2

Simplifications, stated honestly: images are 96x96 PNG scenes (web images are larger, so decoding costs more per
record there); the CLIP is a tiny random one (it measures the pipeline around the model, not a real ViT-B); about
10% of records are duplicates and 5% are bad. Peak memory is the sum of the proportional set sizes (PSS) of the
run's whole process tree (main, fork server, workers), sampled every 100 ms from /proc (Linux only), in a fresh
child process per measurement so one run's peak can't hide another's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from thinkvl.data.pipeline.config import (
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    RelevanceConfig,
    TextQualityConfig,
)
from thinkvl.data.record import open_image

WORDS = "dog cat boat house tree car bird horse bridge tower lamp chair river mountain garden street".split()
PLACES = "park beach city forest kitchen harbour village desert field market station library".split()


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    base = np.stack(
        [128 + 100 * np.sin(rng.uniform(-2, 2) * xx / 32 + rng.uniform(-2, 2) * yy / 32) for _ in "rgb"], -1
    )
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x, y = (int(v) for v in rng.integers(0, 80, 2))
        draw.rectangle(
            [x, y, x + int(rng.integers(6, 40)), y + int(rng.integers(6, 40))],
            fill=tuple(rng.integers(0, 256, 3).tolist()),
        )
    return img


def make_dataset(root: Path, n: int) -> Path:
    """n pair records; ~10% duplicates (same file, re-encoded image, repeated caption), ~5% bad."""
    if (root / "records.jsonl").is_file() and sum(1 for _ in (root / "records.jsonl").open()) == n:
        return root
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(n)
    pngs: list[int] = []  # indices whose image is images/{i}.png
    with (root / "records.jsonl").open("w") as f:
        for i in range(n):
            kind = rng.random()
            rel = f"images/{i}.png"
            caption = f"A {rng.choice(WORDS)} and a {rng.choice(WORDS)} near the {rng.choice(PLACES)}, photo {i}."
            if kind < 0.04 and i > 10:
                rel = f"images/{rng.choice(pngs)}.png"  # exact duplicate file
            elif kind < 0.08 and i > 10:
                scene(rng.randrange(i // 2)).save(root / f"images/{i}.jpg", quality=80)
                rel = f"images/{i}.jpg"  # re-encoded duplicate
            elif kind < 0.10 and i > 10:
                caption = f"A {WORDS[0]} and a {WORDS[1]} near the {PLACES[0]}, photo 0."  # repeated caption
                scene(i).save(root / rel)
            elif kind < 0.13:
                caption = "Buy now! free shipping, click here"
                scene(i).save(root / rel)
            elif kind < 0.15:
                Image.new("RGB", (96, 96), (255, 255, 255)).save(root / rel)
            else:
                scene(i).save(root / rel)
            if rel == f"images/{i}.png":
                pngs.append(i)
            content = [{"type": "image", "image": rel}, {"type": "text", "text": "Describe the image."}]
            record = {"id": f"r{i}", "domain": "caption", "messages": [{"role": "user", "content": content}]}
            record.update(answer=caption, meta={"caption": caption})
            f.write(json.dumps(record) + "\n")
    return root


def tiny_clip(directory: Path) -> Path:
    if (directory / "config.json").is_file():
        return directory
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    words = sorted(set(WORDS + PLACES + "a and near the photo".split()))
    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", "<s>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    small = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    text = {
        **small,
        "vocab_size": len(fast),
        "max_position_embeddings": 32,
        "eos_token_id": 3,
        "bos_token_id": 2,
        "pad_token_id": 0,
    }
    CLIPModel(CLIPConfig(text_config=text, vision_config={**small, "image_size": 32, "patch_size": 8})).save_pretrained(
        directory
    )
    fast.save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


def filters(kind: str, clip: Path) -> list:
    table = {
        "image_quality": [ImageQualityConfig()],
        "text_quality": [TextQualityConfig()],
        "relevance": [RelevanceConfig(model=str(clip), threshold=-1.0)],
        "dedup": [DedupConfig()],
        "chain": [
            ImageQualityConfig(),
            TextQualityConfig(),
            RelevanceConfig(model=str(clip), threshold=-1.0),
            DedupConfig(),
        ],
    }
    return table[kind]


def run(kind: str, data: Path, out: Path, clip: Path, workers: int, mode: str = "stream") -> dict:
    import torch

    from thinkvl.data.pipeline.runner import run_filter_pipeline

    torch.set_num_threads(1)  # one core per process in both runs (workers use cfg.torch_threads = 1)

    cfg = FilterPipelineConfig(
        input=str(data), output=str(out), filters=filters(kind, clip), workers=workers, overwrite=True, chunk_size=64
    )
    start = time.perf_counter()
    if mode == "stream":
        report = run_filter_pipeline(cfg)
        summary = report.summary()
    else:
        summary = in_memory_baseline(cfg)
    summary["wall_s"] = time.perf_counter() - start
    return summary


def in_memory_baseline(cfg: FilterPipelineConfig) -> dict:
    """The naive way: read every record, decode every image, filter, then write — all in memory at once."""
    from thinkvl.data.pipeline.chain import Chain, Sink

    chain = Chain(cfg)
    chain.setup()
    lines = [(i + 1, line.rstrip(b"\n")) for i, line in enumerate((Path(cfg.input) / "records.jsonl").open("rb"))]
    images = []
    for _, x in lines:
        try:
            images.append(open_image(Path(cfg.input) / json.loads(x)["messages"][0]["content"][0]["image"]))
        except ValueError:
            images.append(None)
    outcomes = chain.process(lines)
    sink = Sink(cfg, chain.stages)
    sink.consume(outcomes)
    sink.close()
    del images
    return {"records_in": len(lines), "records_out": sink.report.records_out}


def _pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages (torch's libraries in every worker) counted once in total."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_memory_bytes(pid: int) -> int:
    """PSS of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _pss_bytes(p)
        stack.extend(children.get(p, []))
    return total


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process: run, and report the peak RSS of the whole process tree."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_memory_bytes(os.getpid()))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    summary = run(args.kind, Path(args.data), Path(args.out), Path(args.clip), args.workers, args.mode)
    stop.set()
    t.join()
    keys = ("records_in", "records_out", "wall_s", "dedup_index_bytes", "steady_records_per_s", "startup_s")
    print(json.dumps({"peak_mb": peak[0] / 2**20, **{k: summary.get(k) for k in keys}}))


def measure(kind: str, data: Path, out: Path, clip: Path, workers: int, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--child", "--kind", kind, "--data", str(data), "--out", str(out)]
    cmd += ["--clip", str(clip), "--workers", str(workers), "--mode", mode]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="records in the small dataset")
    ap.add_argument("--scale", type=int, default=10, help="the large dataset has n * scale records")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the parallel runs")
    ap.add_argument("--dir", default="/tmp/thinkvl_bench_pipeline", help="where datasets and outputs go")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="chain", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--clip", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    base = Path(args.dir)
    clip = tiny_clip(base / "clip")
    t = time.perf_counter()
    small = make_dataset(base / f"data_{args.n}", args.n)
    large = make_dataset(base / f"data_{args.n * args.scale}", args.n * args.scale)
    print(f"datasets ready in {time.perf_counter() - t:.0f} s; {os.cpu_count()} CPUs")

    print(f"\nsteady-state throughput on {args.n} records, records/s (start-up excluded; ratio = {args.workers} / 1)")
    print(f"{'filter':<15}{'1 process':>11}{f'{args.workers} workers':>11}{'ratio':>7}{'start-up s':>12}")
    for kind in ("image_quality", "text_quality", "relevance", "dedup", "chain"):
        one = run(kind, small, base / "out", clip, 1)
        many = run(kind, small, base / "out", clip, args.workers)
        r1, rn = one["steady_records_per_s"], many["steady_records_per_s"]
        print(f"{kind:<15}{r1:>11.0f}{rn:>11.0f}{rn / r1:>7.2f}{many['startup_s']:>12.1f}")

    n, big = args.n, args.n * args.scale
    print(f"\npeak memory of the chain (PSS of the whole process tree, MB) at {n} and {big} records")
    print(f"{'runner':<24}{n:>8}{big:>8}{'growth':>8}{'rec/s':>8}   dedup index MB")
    for label, mode, workers in (
        ("streaming, 1 process", "stream", 1),
        (f"streaming, {args.workers} workers", "stream", args.workers),
        ("in-memory baseline", "memory", 1),
    ):
        a = measure("chain", small, base / "mem_out", clip, workers, mode)
        b = measure("chain", large, base / "mem_out", clip, workers, mode)
        index = ""
        if mode == "stream":
            index = f"{a['dedup_index_bytes'] / 2**20:.2f} -> {b['dedup_index_bytes'] / 2**20:.2f}"
        rate = b["steady_records_per_s"] or b["records_in"] / b["wall_s"]
        growth = b["peak_mb"] / a["peak_mb"]
        print(f"{label:<24}{a['peak_mb']:>8.0f}{b['peak_mb']:>8.0f}{growth:>8.2f}{rate:>8.0f}   {index}")


if __name__ == "__main__":
    main()
