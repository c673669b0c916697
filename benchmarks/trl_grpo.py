"""TRL's GRPOTrainer as the peer implementation: train a model with it under an `RLConfig`'s plain-GRPO settings.

Why: a held-out gain (or loss) from our RL loop means something only if an independent implementation, given the
same model, prompts, reward and rollout count, does about the same. `benchmarks/rl_efficiency.py` imports
`train_trl` and evaluates its model with the same scorer as ours.

Settings mapped one to one from the `RLConfig`: group size (``num_generations``), prompts per iteration ×
group size per generation (``steps_per_generation`` optimizer steps of ``mini_batch_size`` completions each),
``ppo_epochs`` (``num_iterations``), temperature, top-p, no top-k, PPO clip (``epsilon`` / ``epsilon_high``),
per-sequence loss averaging (``loss_type="grpo"``), std-normalised group advantages (``scale_rewards="group"``), no
KL (``beta=0``), learning rate with linear warm-up then constant, AdamW (torch) with the same weight decay and
grad-norm clip, float32. Completions may be ``thinking_budget + answer_budget`` tokens long (TRL has no forced
answering; compare with our run with forced answering off). The reward is thinkvl's `RewardSystem` through
`make_trl_reward`, fed the completion ids with the special tokens that TRL's own decoding strips.

Not equal, stated: TRL samples prompts with replacement across steps through its RepeatSampler (ours draws distinct
prompts per iteration); TRL's log-probs do not mask the suppressed placeholder tokens (their probability is ~0);
TRL has no video input, so the pool must be images only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from thinkvl.model import load_bundle, save_bundle
from thinkvl.model.chat import content_parts
from thinkvl.model.generate import suppressed_token_ids
from thinkvl.reward.adapters import make_trl_reward
from thinkvl.rl.config import RLConfig


def trl_rows(records: list[Any], root: Path) -> list[dict[str, Any]]:
    """TRL's conversational multimodal rows: image placeholders in the prompt, the pixels in ``images``, and the
    columns `make_trl_reward` reads (domain, answer, meta as JSON text)."""
    from PIL import Image

    rows = []
    for rec in records:
        prompt, images = [], []
        for message in rec.messages:
            parts = []
            for part in content_parts(message["content"]):
                if part.get("type") == "image":
                    with Image.open(root / part["image"]) as im:
                        images.append(im.convert("RGB"))
                    parts.append({"type": "image"})
                elif part.get("type") == "text":
                    parts.append({"type": "text", "text": part["text"]})
                else:
                    raise ValueError(f"record {rec.id}: TRL's GRPOTrainer takes no {part.get('type')!r} input")
            prompt.append({"role": message["role"], "content": parts})
        answer = rec.answer if isinstance(rec.answer, str) else json.dumps(rec.answer)
        rows.append({"id": rec.id, "prompt": prompt, "images": images, "domain": rec.domain, "answer": answer,
                     "meta": json.dumps(rec.meta)})  # fmt: skip
    return rows


def train_trl(cfg: RLConfig, records: list[Any], root: Path, rollouts: int, out: Path) -> Path:
    """Train ``cfg.model`` with TRL's GRPOTrainer on ``records`` for ``rollouts`` completions; return the saved
    model's directory (``out/model``)."""
    import datasets
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    per_generation = cfg.prompts_per_iteration * cfg.group_size
    if per_generation % cfg.mini_batch_size:
        raise ValueError("prompts_per_iteration × group_size must be a multiple of mini_batch_size")
    steps_per_generation = per_generation // cfg.mini_batch_size
    bundle = load_bundle(cfg.model)
    # TRL left-pads prompt ids but takes mm_token_type_ids from the processor's padding: pad on the left too.
    bundle.processor.tokenizer.padding_side = "left"
    config = GRPOConfig(
        output_dir=str(out / "trl"),
        use_cpu=True,
        bf16=False,
        fp16=False,
        activation_checkpointing=False,
        per_device_train_batch_size=cfg.mini_batch_size,
        gradient_accumulation_steps=1,
        steps_per_generation=steps_per_generation,
        num_generations=cfg.group_size,
        num_iterations=cfg.ppo_epochs,
        max_completion_length=cfg.thinking_budget + cfg.answer_budget,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=0,
        generation_kwargs={"suppress_tokens": suppressed_token_ids(bundle.tokenizer)},
        beta=0.0,
        epsilon=cfg.clip_eps_low,
        epsilon_high=cfg.clip_eps_high,
        loss_type="grpo",
        scale_rewards="group",
        learning_rate=cfg.lr,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        optim="adamw_torch",
        max_grad_norm=cfg.max_grad_norm,
        max_steps=max(1, rollouts * cfg.ppo_epochs // cfg.mini_batch_size),
        logging_steps=steps_per_generation * cfg.ppo_epochs,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=cfg.seed,
    )
    trainer = GRPOTrainer(
        model=bundle.model,
        reward_funcs=[make_trl_reward(tokenizer=bundle.tokenizer)],
        args=config,
        train_dataset=datasets.Dataset.from_list(trl_rows(records, root)),
        processing_class=bundle.processor,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    (out / "trl_log.json").write_text(json.dumps(trainer.state.log_history, indent=1))
    bundle.model = trainer.model
    bundle.processor.tokenizer.padding_side = "right"
    return save_bundle(bundle, out / "model")
