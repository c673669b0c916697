"""Configuration of one supervised stage (pre-training, long-context, SFT); YAML maps onto it 1:1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from thinkvl.config import check_values
from thinkvl.config import option as _f
from thinkvl.train.distributed import MixedPrecision

Attention = Literal["sdpa", "eager", "flash_attention_2", "flash_attention_3"]
Stage = Literal["pretrain", "long_context", "sft"]


@dataclass(kw_only=True)
class DeviceOptions:
    """Where and how a model runs: one definition for the supervised stages and RL (their configs inherit it)."""

    device: str = _f("auto", "auto: LOCAL_RANK's GPU under torchrun, else the GPU if any, else the CPU; or cpu, cuda:N")
    mixed_precision: MixedPrecision = _f(
        "no", "bf16: compute in bf16 with fp32 master weights (FSDP2 MixedPrecisionPolicy, else autocast); no: fp32"
    )
    activation_checkpointing: bool = _f(False, "recompute each layer's activations in backward (long sequences fit)")
    attn_implementation: Attention = _f("sdpa", "attention kernel: sdpa, eager, or flash_attention_2 when installed")
    fsdp: bool = _f(False, "shard parameters, gradients and optimizer state with FSDP2 across processes (else DDP)")
    sharded_checkpoints: bool = _f(
        True, "under FSDP, each rank saves its own shard (torch.distributed.checkpoint), never a full copy"
    )


@dataclass
class StageConfig(DeviceOptions):
    stage: Stage = _f("sft", "pretrain: loss on captions; long_context: the same, longer packs; sft: loss on responses")
    model: str = _f("tiny", "a preset name (tiny, small, glm-4.1v-9b) to start from scratch, or a model directory")
    data: str = _f("", "dataset: a directory with records.jsonl, a .parquet file, or a saved HF dataset")
    out: str = _f("runs/sft", "run directory: checkpoints/, metrics.jsonl, loss.png, model/")
    pack_len: int = _f(1024, "tokens per packed sequence (report: 8,192 pre-training, 32,768 long-context and SFT)")
    overflow: Literal["truncate", "drop"] = _f("truncate", "what to do with a sample longer than pack_len")
    batch_size: int = _f(8, "packed sequences per optimizer step, across all processes (global batch)")
    micro_batch: int = _f(8, "packed sequences per forward pass on one process (gradient accumulation)")
    steps: int = _f(100, "optimizer steps; the data is repeated in a fresh shuffled order each epoch")
    lr: float = _f(1e-3, "peak learning rate (AdamW)")
    min_lr_ratio: float = _f(0.1, "the cosine schedule decays to lr × this")
    warmup_steps: int = _f(10, "linear warm-up steps")
    weight_decay: float = _f(0.01, "AdamW weight decay")
    max_grad_norm: float = _f(1.0, "gradient clipping norm (0 disables)")
    freeze_vision: bool = _f(False, "keep the ViT encoder fixed")
    freeze_projector: bool = _f(False, "keep the patch merger / MLP projector fixed")
    thinking: bool = _f(True, "SFT targets with <think>…</think> (False: empty thinking, answer only)")
    domains: list[str] | None = _f(None, "train only on records of these domains (None: all)")
    domain_weights: dict[str, float] | None = _f(
        None,
        "draw each sample int(w) + Bernoulli(w − int(w)) times per pass, w its domain's weight (seeded; drawn once "
        "when an epoch fits pack_buffer); unlisted domains: 1",
    )
    pack_buffer: int = _f(
        8192,
        "records packed together (first-fit decreasing) on the fly; bounds memory and time to first step. When an "
        "epoch fits, packing equals the in-memory path and later epochs reuse the packs",
    )
    num_workers: int = _f(1, "DataLoader worker processes that read and encode records (0: in the training process)")
    data_shards: int = _f(
        0,
        "data streams the records are split into, each packed on its own; process r trains on streams r, r+world, …"
        " (0: one per process). Fix it to keep the data order when the number of processes changes",
    )
    tokenizer_records: int = _f(100_000, "records whose text trains the tokenizer when starting from a preset")
    vocab_size: int = _f(2048, "tokenizer size when starting from a preset (trained on the data's text)")
    save_every: int = _f(50, "checkpoint every N steps (and at the end)")
    keep_last: int = _f(2, "checkpoints to keep")
    log_every: int = _f(1, "write metrics every N steps")
    seed: int = _f(0, "seed for initialisation and data order")
    dtype: Literal["float32", "bfloat16"] = _f(
        "float32", "dtype of the parameters and optimizer state (float32: master weights; bfloat16: pure bf16)"
    )

    def __post_init__(self) -> None:
        check_values(self)  # types, option sets and true/false, as the YAML loader checks them
        for name in (
            "pack_len",
            "batch_size",
            "micro_batch",
            "steps",
            "save_every",
            "keep_last",
            "log_every",
            "pack_buffer",
            "tokenizer_records",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0 or self.data_shards < 0:
            raise ValueError(f"num_workers and data_shards must be >= 0, got {self.num_workers}, {self.data_shards}")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError("lr must be > 0 and min_lr_ratio in [0, 1]")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("warmup_steps, weight_decay and max_grad_norm must be >= 0")
        if any(w < 0 for w in (self.domain_weights or {}).values()):
            raise ValueError(f"domain_weights must be >= 0, got {self.domain_weights}")

    @property
    def sample_stage(self) -> Literal["pretrain", "sft"]:
        """Long-context training is pre-training with longer packs."""
        return "sft" if self.stage == "sft" else "pretrain"
