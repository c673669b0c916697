"""Memory of a training step: measured on the CPU against an estimate, then the estimate for the 9B recipe.

    python benchmarks/memory.py            # tiny + small measured vs estimated, then the 9B per-GPU table
    python benchmarks/memory.py --quick    # tiny only
    python benchmarks/memory.py --plan configs/glm41v_9b_long_context.yaml configs/glm41v_9b_sft.yaml
                                           # only the 9B configs: GB per GPU and the GPU counts that fit

The estimate counts what a step keeps alive: fp32 parameters, gradients and AdamW state (sharded over N ranks
under FSDP), the bf16 copies mixed precision adds (autocast's weight cache; FSDP2's all-gathered units), the
activations each layer saves for backward (counted tensor by tensor from glm4v's decoder layer and ViT block),
and the logits/loss tensors (T × vocab, in fp32 for the loss; with the trainer's chunked LM head, one chunk of
``LOGIT_CHUNK_ELEMENTS`` logits plus the gathered hidden states). With activation checkpointing a layer keeps only
its input, and one layer's activations are rebuilt at a time.

The measurement: the step's peak resident memory above the resident memory before it (Linux VmHWM after
resetting it through /proc/self/clear_refs), at steady state (third step: the optimizer state already exists,
so the delta is gradients + activations + temporaries). The script re-executes itself with glibc's mmap
threshold lowered and trims the heap before each step, so freed tensors leave the resident set. Simplifications:
one process (the sharded terms are not measured here); allocator fragmentation on a GPU is not modelled.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_threads_argument  # noqa: E402

GB = 2**30
MB = 2**20


@dataclass
class Dims:
    params: int
    text_layer_params: int
    vision_block_params: int
    root_params: int  # outside any FSDP unit: embeddings, lm_head, final norm
    vision_rest_params: int  # the ViT's own unit: patch embedding, merger, downsampling
    layers: int
    hidden: int
    intermediate: int
    q_heads: int
    kv_heads: int
    head_dim: int
    vision_blocks: int
    vision_hidden: int
    vision_intermediate: int
    vocab: int


def dims_of(model: torch.nn.Module) -> Dims:
    text, vision = model.config.text_config, model.config.vision_config
    layer = model.model.language_model.layers[0]
    block = model.model.visual.blocks[0]
    n = sum(p.numel() for p in model.parameters())
    n_layer = sum(p.numel() for p in layer.parameters())
    n_block = sum(p.numel() for p in block.parameters())
    n_visual = sum(p.numel() for p in model.model.visual.parameters())
    return Dims(
        params=n,
        text_layer_params=n_layer,
        vision_block_params=n_block,
        root_params=n - text.num_hidden_layers * n_layer - n_visual,
        vision_rest_params=n_visual - vision.depth * n_block,
        layers=text.num_hidden_layers,
        hidden=text.hidden_size,
        intermediate=text.intermediate_size,
        q_heads=text.num_attention_heads,
        kv_heads=text.num_key_value_heads,
        head_dim=getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads,
        vision_blocks=vision.depth,
        vision_hidden=vision.hidden_size,
        vision_intermediate=block.mlp.gate_proj.out_features,
        vocab=text.vocab_size,
    )


def text_layer_bytes_per_token(d: Dims, b: int, flash: bool) -> int:
    """Tensors one decoder layer saves for backward, per token (b: compute bytes; the residual stream and the
    RMSNorm internals are fp32)."""
    q, kv = d.q_heads * d.head_dim, d.kv_heads * d.head_dim
    low = (
        2 * d.hidden  # normed inputs of qkv and gate_up
        + q
        + 2 * kv  # q, k, v projections
        + (q + kv)
        + (q + kv) // 2  # rotary outputs and the rotate_half halves
        + 2 * q  # attention output and o_proj's (contiguous) input
        + 2 * d.hidden  # o_proj and down_proj outputs (inputs of the post-norms)
        + 4 * d.intermediate  # gate_up (2i), silu(gate), silu(gate) * up
        + (0 if flash else 2 * q)  # sdpa with a mask repeats k and v to every head
    )
    fp32 = 4 * d.hidden + 2 * d.hidden + (2 * d.hidden if b == 2 else 0)  # 4 norms, residuals, fp32 casts
    return low * b + fp32 * 4 + d.q_heads * 4  # + the attention log-sum-exp


def vision_block_bytes_per_patch(d: Dims, b: int) -> int:
    h, i = d.vision_hidden, d.vision_intermediate
    low = 2 * h + 3 * h + 2 * h + h + 2 * h + 4 * i  # norms' outputs, qkv, rotary, halves, attn out + proj in, MLP
    return low * b + (4 * h + (2 * h if b == 2 else 0)) * 4


@dataclass
class Setting:
    tokens: int  # text + visual tokens in the micro-batch
    patches: int  # ViT patches (4 per visual token)
    rows: int  # packed sequences in the micro-batch
    mixed: bool  # bf16 compute, fp32 master weights
    checkpointing: bool
    shards: int = 1  # FSDP world size (1: no sharding)
    flash: bool = False  # varlen flash attention: no dense mask, no repeated k/v
    loss_chunk: int | None = None  # tokens per chunk of the chunked LM head (None: full T × vocab logits)


def estimate(d: Dims, s: Setting) -> dict[str, float]:
    """Bytes per process for one training step's peak, by component."""
    b = 2 if s.mixed else 4
    n = s.shards
    out = {"params": 4 * d.params / n, "optimizer": 8 * d.params / n}
    if n > 1:
        # FSDP2: the root unit stays gathered (bf16) through the step; two layer units in flight (current +
        # prefetch), each with its unsharded bf16 gradient before the fp32 reduce-scatter.
        unit = max(d.text_layer_params, d.vision_block_params, d.vision_rest_params)
        out["gathered"] = b * d.root_params + 2 * (b + b) * unit
    elif s.mixed:
        out["gathered"] = 2 * d.params  # autocast caches a bf16 copy of every weight for the step
    text = text_layer_bytes_per_token(d, b, s.flash)
    vision = vision_block_bytes_per_patch(d, b)
    if s.checkpointing:  # layer inputs (fp32 residual stream) + one layer rebuilt in backward
        acts = 4 * d.hidden * s.tokens * d.layers + 4 * d.vision_hidden * s.patches * d.vision_blocks
        acts += max(text * s.tokens, vision * s.patches)
    else:
        acts = text * s.tokens * d.layers + vision * s.patches * d.vision_blocks
    out["activations"] = acts + 4 * 1176 * s.patches  # + pixel patches
    if not s.flash:
        out["activations"] += s.rows * (s.tokens // s.rows) ** 2  # the dense block-diagonal bool mask
    # Logits (compute dtype), their fp32 copy and log-softmax kept for backward, and the two fp32 gradients
    # alive at the start of backward; chunked, one chunk's worth plus the gathered states and their gradient.
    width = min(s.tokens, s.loss_chunk) if s.loss_chunk else s.tokens
    out["logits"] = (b + 4 * 4) * width * d.vocab + (2 * b * s.tokens * d.hidden if s.loss_chunk else 0)
    # Gradients: fp32, sharded; they grow while activations are freed, so the peak is the larger phase.
    out["grads"] = 4 * d.params / n
    return out


def step_peak(e: dict[str, float]) -> float:
    """What a step adds above params + optimizer state: the larger of the backward's start (activations, logits,
    gathered weights) and the optimizer phase (gradients + one gradient-sized AdamW foreach temporary)."""
    return max(e["activations"] + e["logits"] + e.get("gathered", 0), 2 * e["grads"])


def total(e: dict[str, float]) -> float:
    return e["params"] + e["optimizer"] + step_peak(e)


# -- measurement -----------------------------------------------------------------------------------------------
def _rss(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def long_batch(bundle: Any, data: Path, pack_len: int, rows: int) -> dict[str, Any]:
    """``rows`` packs of up to ``pack_len`` tokens from the records in ``data``, repeated until the packs fill."""
    from thinkvl.data.loaders import load_records
    from thinkvl.train.packing import collate_packed, pack
    from thinkvl.train.samples import build_sample

    dataset = load_records(data)
    samples = [build_sample(r, dataset.root, bundle.processor, bundle.model, "sft") for r in dataset.records]
    samples *= max(1, -(-rows * pack_len // sum(len(s) for s in samples)))
    packs, _ = pack(samples, pack_len, "truncate")
    return collate_packed(packs[:rows], bundle.tokenizer.pad_token_id)


def measure_step(
    model: Any, batch: dict[str, Any], mixed: bool, *, chunked: bool, device: torch.device, steps: int = 3
) -> int:
    """Peak memory of the last of ``steps`` training steps (bytes above what was allocated before it): the
    CUDA allocator's peak on a GPU, the resident set's high-water mark (VmHWM) on the CPU."""
    from thinkvl.train import distributed as D
    from thinkvl.train.loss import token_loss_sum

    libc = ctypes.CDLL("libc.so.6")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = D.to_device(batch, device)
    peak = 0
    for _ in range(steps):
        gc.collect()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
        else:
            libc.malloc_trim(0)
            before = _rss("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        with D.autocast(model, device, "bf16" if mixed else "no"):
            loss, n = token_loss_sum(model, batch, full_logits=not chunked)
        (loss / n).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del loss
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device) - before
        else:
            peak = _rss("VmHWM") - before
    del optimizer
    return peak


def measure(
    preset: str,
    data: Path,
    pack_len: int,
    rows: int,
    mixed: bool,
    checkpointing: bool,
    *,
    chunked: bool = False,
    vocab: int | None = None,
    device: str = "cpu",
) -> tuple[Dims, Setting, int]:
    """One training step's peak memory on ``rows`` packs, full logits or the chunked LM head; ``vocab`` resizes
    the preset's vocabulary (e.g. to the 9B's, where the logits dominate)."""
    from thinkvl.model import create_bundle
    from thinkvl.train import distributed as D

    bundle = create_bundle(preset, seed=0, vocab_size=2048)
    if vocab:
        bundle.model.resize_token_embeddings(vocab, mean_resizing=False)
    model = bundle.model.train().to(device)
    batch = long_batch(bundle, data, pack_len, rows)
    if checkpointing:
        D.enable_activation_checkpointing(model)
    peak = measure_step(model, batch, mixed, chunked=chunked, device=torch.device(device))
    tokens = int(batch["input_ids"].numel())
    patches = int(batch["pixel_values"].shape[0]) if batch.get("pixel_values") is not None else 0
    d = dims_of(model)
    setting = Setting(tokens, patches, rows, mixed, checkpointing, loss_chunk=chunk_tokens(d) if chunked else None)
    del model, bundle, batch
    gc.collect()
    return d, setting, peak


def measured_table(presets: list[str], data: Path, computes: list[str]) -> float:
    print("## Measured vs estimated: one training step on the CPU, full logits (step memory above params + AdamW)\n")
    print("| preset | params | tokens (patches) | compute | checkpointing | measured MB | estimate MB | est/meas |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    shapes = {"tiny": (512, 2), "small": (1024, 2)}
    for preset in presets:
        for mixed in [c == "bf16" for c in computes]:
            for ckpt in (False, True):
                d, s, peak = measure(preset, data, *shapes[preset], mixed, ckpt)
                est = step_peak(estimate(d, s))
                ratio = est / peak
                worst = max(worst, abs(ratio - 1))
                print(
                    f"| {preset} | {d.params / 1e6:.1f}M | {s.tokens} ({s.patches}) | {'bf16' if mixed else 'fp32'} "
                    f"| {'on' if ckpt else 'off'} | {peak / MB:.0f} | {est / MB:.0f} | {ratio:.2f} |",
                    flush=True,
                )
    print(f"\nThe estimate is within ±{worst:.0%} of the measured step memory in these settings.\n")
    return worst


def dims_9b() -> Dims:
    """GLM-4.1V-9B's sizes, from a model built on the meta device (no memory)."""
    from transformers import AutoModelForImageTextToText

    from thinkvl.model.presets import build_config
    from thinkvl.model.tokenizer import build_tokenizer, special_token_ids

    ids = special_token_ids(build_tokenizer(["a b c"], vocab_size=300))
    with torch.device("meta"):
        return dims_of(AutoModelForImageTextToText.from_config(build_config("glm-4.1v-9b", ids, 151_552)))


def chunk_tokens(d: Dims) -> int:
    """Tokens per chunk of the trainer's LM head for this vocabulary."""
    from thinkvl.train.lm_head import LOGIT_CHUNK_ELEMENTS

    return max(1, LOGIT_CHUNK_ELEMENTS // d.vocab)


def plan_9b() -> None:
    d = dims_9b()
    chunk = chunk_tokens(d)
    print(f"## GLM-4.1V-9B per GPU: {d.params / 1e9:.2f}B parameters, micro-batch 1 pack, bf16 compute with fp32")
    print("master weights and AdamW state, FSDP2 over N GPUs, sdpa attention; half of each pack's tokens")
    print("visual (4 ViT patches each). GB per GPU = params + optimizer + the step's peak (activations + logits +")
    print("gathered units, or gradients + optimizer temporaries).\n")
    print("| pack | GPUs | checkpointing | loss | params+optim | activations | logits | gathered | total GB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for pack_len in (8192, 32768):
        for n in (8, 16, 64):
            for ckpt in (False, True):
                for loss_chunk in (None, chunk):
                    s = Setting(pack_len, 2 * pack_len, 1, True, ckpt, shards=n, flash=False, loss_chunk=loss_chunk)
                    e = estimate(d, s)
                    print(
                        f"| {pack_len // 1024}K | {n} | {'on' if ckpt else 'off'} | "
                        f"{f'chunked ({chunk})' if loss_chunk else 'full logits'} | "
                        f"{(e['params'] + e['optimizer']) / GB:.1f} | "
                        f"{e['activations'] / GB:.1f} | {e['logits'] / GB:.1f} | {e['gathered'] / GB:.1f} | "
                        f"**{total(e) / GB:.1f}** |"
                    )


# GPU memory per device (GB: 2**30 bytes) of the two classes the plan is made for, and the share of it an
# estimate may use: the rest is left for the CUDA context, NCCL buffers and allocator fragmentation.
CAPACITIES = {"80 GB (A100/H100)": 80, "141 GB (H200)": 141}
HEADROOM = 0.9


def config_setting(cfg: Any, d: Dims, gpus: int) -> Setting:
    """A supervised stage config's step on ``gpus`` GPUs: ``micro_batch`` packs of ``pack_len`` tokens, half of
    them visual (4 ViT patches each), through the trainer's chunked LM head."""
    tokens = cfg.pack_len * cfg.micro_batch
    return Setting(
        tokens,
        2 * tokens,
        cfg.micro_batch,
        mixed=cfg.mixed_precision == "bf16",
        checkpointing=cfg.activation_checkpointing,
        shards=gpus if cfg.fsdp else 1,
        flash="flash" in cfg.attn_implementation,
        loss_chunk=chunk_tokens(d),
    )


def fewest_gpus(cfg: Any, d: Dims, capacity_gb: float) -> int | None:
    """The fewest GPUs (a power of two, up to 256) on which the config's estimate fits ``capacity_gb``."""
    for n in (2**k for k in range(9)):
        if total(estimate(d, config_setting(cfg, d, n))) <= HEADROOM * capacity_gb * GB:
            return n
    return None


def plan_configs(paths: list[Path]) -> dict[str, dict[str, int | None]]:
    """Per config: GB per GPU on 8 GPUs, and the fewest GPUs that fit each GPU class; printed as a table."""
    from thinkvl.config import load_yaml
    from thinkvl.train.config import StageConfig

    d = dims_9b()
    print(f"## The 9B configs (chunked LM head, {chunk_tokens(d)} tokens a chunk; fits = estimate ≤ {HEADROOM:.0%})\n")
    print(
        "| config | pack × micro-batch | GB per GPU on 8 | " + " | ".join(f"fits {c} from" for c in CAPACITIES) + " |"
    )
    print("|---|---|---|" + "---|" * len(CAPACITIES))
    plans = {}
    for path in paths:
        cfg = load_yaml(StageConfig, path)
        plans[path.name] = {name: fewest_gpus(cfg, d, gb) for name, gb in CAPACITIES.items()}
        on8 = total(estimate(d, config_setting(cfg, d, 8))) / GB
        fits = " | ".join(
            f"{n} GPUs ({total(estimate(d, config_setting(cfg, d, n))) / GB:.1f} GB)" if n else "no"
            for n in plans[path.name].values()
        )
        print(f"| {path.name} | {cfg.pack_len} × {cfg.micro_batch} | {on8:.1f} | {fits} |")
    return plans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny preset only")
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"], choices=["tiny", "small"], help="measured")
    ap.add_argument(
        "--compute", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"], help="bf16 is slow on most CPUs"
    )
    ap.add_argument("--data", type=Path, default=Path("/tmp/thinkvl_memory_data"), help="synthetic records dir")
    ap.add_argument("--plan", nargs="+", type=Path, help="only the plan of these supervised stage configs")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.plan:
        plan_configs(args.plan)
        return 0
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:  # large blocks by mmap: freed memory leaves the RSS
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    torch.set_num_threads(args.threads)
    from thinkvl.data.synth import write_dataset

    if not (args.data / "records.jsonl").is_file():
        write_dataset(args.data, domains=["counting", "chart", "choice"], n=6, seed=0, levels=[0])
    measured_table(["tiny"] if args.quick else args.presets, args.data, args.compute)
    plan_9b()
    return 0


if __name__ == "__main__":
    sys.exit(main())
