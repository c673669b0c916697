"""A GPU check for thinkvl, ready to run on a machine with one CUDA GPU (a stock PyTorch image plus thinkvl's
pure-Python dependencies; no network, no vLLM):

    PYTHONPATH=src python scripts/gpu_check.py                 # the GPU: small preset, bf16, a few dozen steps
    PYTHONPATH=src python scripts/gpu_check.py --device cpu    # the same checks on the CPU (tiny preset)
    PYTHONPATH=src python scripts/gpu_check.py --tiny          # the dry run: CPU, tiny, every size cut down

It runs (1) SFT of a freshly initialised preset on built-in synthetic tasks with bf16 mixed precision and
activation checkpointing, (2) one RLCS iteration with the transformers engine from that model, (3) a forward of
the SFT model on the CPU and on the device (fp32 and bf16), (4) the 32K stage in small: SFT steps on one
32,768-token pack through the chunked LM head, the small preset with the 9B's 151,552-token vocabulary (the
logits are what 32K packs make large), bf16, activation checkpointing, its peak memory printed against
benchmarks/memory.py's estimate (on the CPU: a 2,048-token pack, vocabulary 8,192, fp32). It prints tokens/s,
an MFU estimate (6·N FLOPs per trained token against the GPU's dense bf16 peak), peak memory and PASS/FAIL
lines, writes gpu_check.json, and exits 1 if any check fails. Simplifications: one process (the multi-process
paths are tested with gloo on the CPU); the MFU counts model FLOPs only (no attention term, no recomputation);
the 9B model itself does not fit one GPU for training, so (4) checks the estimate on a model that does.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import torch

# Dense bf16 peak FLOP/s by device name (vendor data sheets, no sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "H800": 989e12, "A100": 312e12, "A800": 312e12, "L40S": 362e12}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # the process's peak RSS (KiB on Linux)


class Checks:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def __call__(self, name: str, ok: bool, detail: str) -> None:
        self.rows.append({"check": name, "ok": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)

    @property
    def ok(self) -> bool:
        return all(r["ok"] for r in self.rows)


def check_sft(args: argparse.Namespace, data: Path, device: torch.device, checks: Checks) -> tuple[Path, dict]:
    from thinkvl.metrics import read_metrics
    from thinkvl.train.config import StageConfig
    from thinkvl.train.trainer import run_stage

    cfg = StageConfig(
        stage="sft",
        model=args.preset,
        data=str(data),
        out=str(args.out / "sft"),
        pack_len=args.pack_len,
        batch_size=args.batch_size,
        micro_batch=args.batch_size,
        steps=args.steps,
        lr=5e-4,
        warmup_steps=max(1, args.steps // 10),
        save_every=args.steps,
        vocab_size=2048,
        device=str(device),
        mixed_precision=args.mixed_precision,
        activation_checkpointing=True,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    result = run_stage(cfg, show_progress=False)
    wall = time.perf_counter() - t0
    losses = [r["train/loss"] for r in read_metrics(Path(cfg.out) / "metrics.jsonl") if "train/loss" in r]
    k = max(1, len(losses) // 5)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    from thinkvl.model import load_bundle

    n_params = load_bundle(Path(cfg.out) / "model", device="cpu").num_parameters
    peak = peak_flops(device)
    mfu = 6 * n_params * result.tokens_per_second / peak if peak else None
    stats = {
        "preset": args.preset,
        "params": n_params,
        "steps": len(losses),
        "loss_first": first,
        "loss_last": last,
        "tokens_per_s": result.tokens_per_second,
        "mfu": mfu,
        "peak_memory_gb": peak_memory_gb(device),
        "wall_s": wall,
    }
    print(
        f"sft: {args.preset} ({n_params / 1e6:.1f}M params), {len(losses)} steps in {wall:.1f}s, "
        f"{result.tokens_per_second:,.0f} tokens/s, MFU {f'{mfu:.1%}' if mfu is not None else 'n/a (no GPU peak)'}, "
        f"peak memory {stats['peak_memory_gb']:.2f} GB",
        flush=True,
    )
    finite = all(math.isfinite(x) for x in losses)
    checks("sft loss falls", finite and len(losses) == args.steps and last < 0.9 * first, f"{first:.3f} -> {last:.3f}")
    return Path(cfg.out) / "model", stats


def check_rl(args: argparse.Namespace, model: Path, data: Path, device: torch.device, checks: Checks) -> dict:
    from thinkvl.metrics import read_metrics
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import run_rl

    cfg = RLConfig(
        model=str(model),
        data=str(data),
        out=str(args.out / "rl"),
        iterations=1,
        prompts_per_iteration=args.rl_prompts,
        group_size=4,
        thinking_budget=args.rl_budget,
        answer_budget=16,
        mini_batch_size=4 * args.rl_prompts,
        micro_batch_size=4,
        rollout_batch_size=4 * args.rl_prompts,
        lr=1e-5,
        dynamic_sampling=False,
        device=str(device),
        mixed_precision="bf16",
    )
    t0 = time.perf_counter()
    out = run_rl(cfg, show_progress=False)
    wall = time.perf_counter() - t0
    rows = [r for r in read_metrics(out / "metrics.jsonl") if "rewards/mean" in r]
    row = rows[-1] if rows else {}
    ok = bool(rows) and math.isfinite(row.get("rewards/mean", math.nan)) and (out / "model" / "config.json").is_file()
    ok = ok and math.isfinite(row.get("actor/grad_norm", math.nan))
    checks(
        "rlcs iteration",
        ok,
        f"{row.get('rollouts/total', 0)} rollouts, reward {row.get('rewards/mean', math.nan):.3f}, "
        f"grad norm {row.get('actor/grad_norm', math.nan):.3g}, {wall:.1f}s",
    )
    return {"wall_s": wall, **{k: v for k, v in row.items() if isinstance(v, (int, float))}}


def check_forward(model: Path, data: Path, device: torch.device, checks: Checks) -> dict:
    """The same batch through the model on the CPU (fp32) and on the device (fp32, and bf16 autocast)."""
    from thinkvl.data.loaders import load_records
    from thinkvl.model import load_bundle
    from thinkvl.train import distributed as D
    from thinkvl.train.loss import forward_logits
    from thinkvl.train.packing import collate_packed
    from thinkvl.train.samples import build_sample

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 must mean fp32 for the comparison
        torch.backends.cudnn.allow_tf32 = False
    dataset = load_records(data)
    cpu = load_bundle(model, device="cpu", dtype=torch.float32)
    cpu.model.eval()
    samples = [build_sample(r, dataset.root, cpu.processor, cpu.model, "sft") for r in dataset.records[:4]]
    batch = collate_packed([[s] for s in samples], cpu.tokenizer.pad_token_id)
    with torch.no_grad():
        ref = forward_logits(cpu.model, batch).float()
        on = load_bundle(model, device=device, dtype=torch.float32)
        on.model.eval()
        moved = D.to_device(batch, device)
        fp32 = forward_logits(on.model, moved).float().cpu()
        with D.autocast(on.model, device, "bf16"):
            bf16 = forward_logits(on.model, moved).float().cpu()
    scale = float(ref.abs().max())
    err32 = float((fp32 - ref).abs().max()) / scale
    err16 = float((bf16 - ref).abs().max()) / scale
    agree = float((bf16.argmax(-1) == ref.argmax(-1)).float().mean())
    checks("forward agrees (fp32)", err32 < 1e-4, f"max |Δlogit| / max |logit| = {err32:.2e} (< 1e-4)")
    checks("forward agrees (bf16)", err16 < 5e-2 and agree > 0.95, f"relative {err16:.2e} (< 5e-2), argmax {agree:.1%}")
    return {"fp32_rel_err": err32, "bf16_rel_err": err16, "bf16_argmax_agree": agree}


def check_long_pack(args: argparse.Namespace, data: Path, device: torch.device, checks: Checks) -> dict:
    """SFT steps on one long pack through the chunked LM head: measured peak against memory.py's estimate."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from memory import GB, estimate, measure, step_peak

    gpu = device.type == "cuda"
    preset, pack_len, vocab = ("small", 32768, 151_552) if gpu else ("tiny", 2048, 8192)
    t0 = time.perf_counter()
    d, s, peak = measure(preset, data, pack_len, 1, gpu, True, chunked=True, vocab=vocab, device=str(device))
    wall = time.perf_counter() - t0
    est = step_peak(estimate(d, s))
    # The estimate is an upper bound where measured (benchmarks/README.md); a quarter over it is a finding.
    checks(
        "long pack step",
        0 < peak <= 1.25 * est,
        f"{preset}, {s.tokens:,} tokens, vocabulary {vocab:,}, chunked LM head: step peak {peak / GB:.2f} GB, "
        f"estimate {est / GB:.2f} GB (measured / estimate {peak / est:.2f}), {wall:.1f}s for 3 steps",
    )
    return {"preset": preset, "tokens": s.tokens, "vocab": vocab, "peak_gb": peak / GB, "estimate_gb": est / GB}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for the dry run")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_check"), help="work directory")
    parser.add_argument("--preset", help="model preset (default: small on a GPU, tiny on the CPU)")
    parser.add_argument("--steps", type=int, help="SFT steps (default: 40 on a GPU, 8 on the CPU)")
    parser.add_argument("--tiny", action="store_true", help="the dry run on the CPU: tiny preset, 4 fp32 SFT steps")
    args = parser.parse_args(argv)
    args.mixed_precision = "no" if args.tiny else "bf16"  # bf16 matmuls are slow on most CPUs
    if args.tiny:
        args.device, args.steps = "cpu", args.steps or 4
    from thinkvl.data.synth import write_dataset
    from thinkvl.model.device import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as err:
        print(f"gpu_check: error: {err}", file=sys.stderr)
        return 2
    gpu = device.type == "cuda"
    args.preset = args.preset or ("small" if gpu else "tiny")
    args.steps = args.steps or (40 if gpu else 8)
    args.pack_len, args.batch_size = (2048, 16) if gpu else (256, 4)
    args.rl_prompts, args.rl_budget = (8, 64) if gpu else (2, 8)
    name = torch.cuda.get_device_name(device) if gpu else "cpu"
    print(f"gpu_check on {name}: torch {torch.__version__}, preset {args.preset}, {args.steps} SFT steps", flush=True)
    data = args.out / "data"
    if not (data / "records.jsonl").is_file():
        write_dataset(data, domains=["counting", "chart", "choice", "math"], n=24 if gpu else 6, seed=0)
    checks = Checks()
    report: dict = {"device": name, "torch": torch.__version__}
    model, report["sft"] = check_sft(args, data, device, checks)
    report["rl"] = check_rl(args, model, data, device, checks)
    report["forward"] = check_forward(model, data, device, checks)
    report["long_pack"] = check_long_pack(args, data, device, checks)
    report["checks"] = checks.rows
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"{'all checks passed' if checks.ok else 'SOME CHECKS FAILED'} → {args.out / 'gpu_check.json'}")
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())
