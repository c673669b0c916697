"""Training and generation throughput of a model preset on this machine (tokens/s), and the cost of packing.

Runs the tiny preset on built-in synthetic data: (1) SFT steps on packed batches, counting real tokens;
(2) batched sampling with a KV cache, counting generated tokens. Both sides use the same model in one process.

    python benchmarks/model_speed.py [--preset tiny] [--steps 10] [--batch 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth.writer import write_dataset
from thinkvl.model import create_bundle
from thinkvl.model.generate import SamplingParams, TransformersEngine
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, pack
from thinkvl.train.samples import build_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tmp, n=12, seed=0, levels=[0])
        ds = load_records(tmp)
        bundle = create_bundle(args.preset)
        print(f"preset {args.preset}: {bundle.num_parameters:,} parameters, torch threads {torch.get_num_threads()}")
        samples = [build_sample(r, ds.root, bundle.processor, bundle.model, "sft") for r in ds.records]
        packs, stats = pack(samples, 512)
        opt = torch.optim.AdamW(bundle.model.parameters(), lr=1e-4)
        bundle.model.train()
        tokens, start = 0, None
        for step in range(args.steps + 1):
            if step == 1:
                start, tokens = time.perf_counter(), 0  # step 0 is warm-up
            batch = collate_packed(
                [packs[(step * 4 + i) % len(packs)] for i in range(4)], bundle.tokenizer.pad_token_id
            )
            loss, n = token_loss_sum(bundle.model, batch)
            (loss / n).backward()
            opt.step()
            opt.zero_grad()
            tokens += int(batch["input_ids"].numel())
        train_tps = tokens / (time.perf_counter() - start)
        print(f"training: {train_tps:,.0f} tokens/s (packs of 512, fill {stats.fill:.1%}, 4 packs per step)")
        bundle.model.eval()
        engine = TransformersEngine(bundle, batch_size=args.batch)
        images = [r for r in ds.records if r.domain != "video"][: args.batch]
        params = SamplingParams(n=1, thinking_budget=args.new_tokens, answer_budget=8)
        engine.generate(images[:2], ds.root, params)  # warm-up
        start = time.perf_counter()
        rollouts = engine.generate(images, ds.root, params)
        elapsed = time.perf_counter() - start
        generated = sum(len(r.response_ids) for r in rollouts)
        print(
            f"generation: {generated / elapsed:,.0f} tokens/s (batch {len(images)}, up to {args.new_tokens} new tokens)"
        )


if __name__ == "__main__":
    main()
