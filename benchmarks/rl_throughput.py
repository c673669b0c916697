"""Our RLCS loop against TRL's GRPOTrainer: completion tokens/s end to end (generation + scoring + update).

Why: the RL loop is where the compute goes, and it must not be slower than the library most people would use.
Both sides train the same tiny glm4v (a fresh one saved to a temp dir, or ``--model DIR``, e.g. a demo's SFT
output) on the same built-in image tasks, in one process, round after round (ours, TRL, TRL, ours, …), each
with its own copy of the weights and its own AdamW. A step is: draw prompts → generate G completions each →
score them with the same `thinkvl.reward.RewardSystem` instance → group-normalised advantages → one clipped
policy-gradient optimizer step. Tokens counted are the completion tokens the policy sampled (up to and including
the stop token); time is wall-clock per step, the first step of each round excluded (TRL sets up its dataloader
and accelerator state then).

    python benchmarks/rl_throughput.py                 # G=8, 4 prompts/step, 64 tokens, 4 rounds x 3 steps
    python benchmarks/rl_throughput.py --quick         # a smoke run, well under 2 minutes
    python benchmarks/rl_throughput.py --model runs/demo/sft/model --forced-answering on

Settings made equal (printed at start): group size, prompts per step (one generate call for all of a step's
completions), max completion tokens, temperature 1, top-p 1, top-k off, the same suppressed tokens (visual
placeholders and prompt-only tags) and stop tokens, no KL (TRL beta=0, no reference model), PPO clip 0.2/0.28,
loss averaged per sequence then over sequences (ours 'sample', TRL loss_type='grpo'), std-normalised group
advantages, one optimizer step per generation, constant learning rate, AdamW (torch, non-fused), grad-norm clip 1,
float32, no gradient checkpointing (TRL's default is on), uniform prompt sampling (our curriculum off) and no
dynamic-sampling over-draw.

What can't be made equal, stated honestly:
- TRL's GRPOTrainer has no video input: both sides use the image domains only.
- Forced answering (ours) has no TRL counterpart. By default it is off here: a thought that reaches the budget is
  kept as a truncated response (the benchmark swaps in an engine whose forcing step does that). With
  ``--forced-answering on`` ours also runs the extra answering pass, up to ``--answer-budget`` more tokens.
- Our loss applies a truncated importance weight from the engine's log-probs (tis_cap 2.0); TRL's plain
  transformers path has none. Its cost is a few element-wise ops.
- TRL decodes completions with ``skip_special_tokens=True``, which strips the thinking-format tags (special
  tokens), so `make_trl_reward` would score text with no <think>/<answer>/box tags. The TRL reward here decodes
  TRL's ``completion_ids`` with special tokens kept, then calls `make_trl_reward`'s function; a parity check
  at start confirms both sides give every record's reference answer the same reward.
- TRL left-pads prompt ids but takes ``mm_token_type_ids`` from the processor's own padding; a thinkvl tokenizer
  reloaded from a model directory pads on the right (``padding_side`` isn't saved), which makes glm4v's
  ``get_rope_index`` fail on prompts of unequal length. The TRL side's processor is set to pad on the left.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import add_threads_argument
from trl_grpo import trl_rows

from thinkvl.data.loaders import load_records
from thinkvl.data.synth.writer import write_dataset
from thinkvl.model import create_bundle, load_bundle, save_bundle
from thinkvl.model.generate import Rollout, TransformersEngine, modality
from thinkvl.reward.adapters import default_system, make_trl_reward
from thinkvl.rl.config import RLConfig
from thinkvl.rl.trainer import RLCSTrainer
from thinkvl.train.samples import sft_target
from thinkvl.train.trainer import dataset_corpus

IMAGE_DOMAINS = ["counting", "chart", "ocr", "grounding", "math", "choice"]
PHASES = ("generation", "scoring", "update")


class PhaseClock:
    """Wall and CPU time spent inside chosen methods of an object, by phase (CPU under ``"cpu " + phase``);
    ``snapshot()`` copies the running totals."""

    def __init__(self) -> None:
        self.total = dict.fromkeys([*PHASES, *(f"cpu {k}" for k in PHASES)], 0.0)

    def wrap(self, obj: Any, method: str, phase: str) -> None:
        inner = getattr(obj, method)

        def timed(*a: Any, **k: Any) -> Any:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return inner(*a, **k)
            finally:
                self.total[phase] += time.perf_counter() - start
                self.total[f"cpu {phase}"] += time.process_time() - start_cpu

        setattr(obj, method, timed)

    def snapshot(self) -> dict[str, float]:
        return dict(self.total)


def phase_split(
    snaps: list[dict[str, float]], times: list[float], cpu: list[float], rest: str = "other"
) -> list[dict[str, float]]:
    """Per-step wall and CPU seconds by phase from running totals taken at each step's end; the time no timed
    method covers goes to ``rest``."""
    out = []
    for a, b, t, c in zip(snaps, snaps[1:], times, cpu):
        d = {k: b[k] - a[k] for k in a}
        d["other"] = d["cpu other"] = 0.0
        d[rest] += t - sum(d[k] for k in (*PHASES, "other"))
        d[f"cpu {rest}"] += c - sum(d[f"cpu {k}"] for k in (*PHASES, "other"))
        out.append(d)
    return out


class CountingEngine(TransformersEngine):
    """Our engine, counting sampled completion tokens; with ``force=False`` a thought cut at its budget stays
    truncated (no answering pass), as in TRL."""

    def __init__(self, bundle: Any, batch_size: int, force: bool):
        super().__init__(bundle, batch_size=batch_size)
        self.force = force
        self.tokens = 0

    def generate(self, records, root, params):  # type: ignore[override]
        out = super().generate(records, root, params)
        self.tokens += sum(sum(r.action_mask) for r in out)
        return out

    def _force_answers(self, records, root, prompts, to_force, params, results):  # type: ignore[override]
        if self.force:
            return super()._force_answers(records, root, prompts, to_force, params, results)
        for r, ids, lps in to_force:
            results[r].append(Rollout(records[r].id, "", ids, lps, [1] * len(ids), truncated=True))


def make_trl_reward_fn(tokenizer: Any, log: list[tuple[int, float]]) -> Any:
    """`make_trl_reward` fed the completions with their special tokens (TRL's own decoding drops them); logs
    (completion tokens, mean reward) of every call."""
    base = make_trl_reward()  # shares the process's default RewardSystem with our trainer

    def thinkvl_reward(prompts: list[Any], completions: list[Any], completion_ids: list[list[int]], **columns: Any):
        texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=False)
        rewards = base(prompts, texts, **columns)
        log.append((sum(len(c) for c in completion_ids), sum(rewards) / len(rewards)))
        return rewards

    return thinkvl_reward


def reward_parity(records: list[Any], rows: list[dict[str, Any]], tokenizer: Any) -> tuple[int, int]:
    """How many records' reference responses get the same reward from both sides' reward paths."""
    texts = [sft_target(r) for r in records]
    ours = [v.reward for v in default_system().score_batch(texts, records)]
    ids = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    columns = {k: [row[k] for row in rows] for k in ("domain", "answer", "meta")}
    theirs = make_trl_reward_fn(tokenizer, [])([None] * len(rows), [None] * len(rows), ids, **columns)
    same = sum(abs(a - b) < 1e-9 for a, b in zip(ours, theirs))
    return same, len(records)


def build_trl(args: argparse.Namespace, model_dir: Path, rows: list[dict], out: Path, suppressed: list[int]) -> tuple:
    import datasets
    import trl
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    bundle = load_bundle(model_dir)
    # TRL left-pads prompt ids itself but takes mm_token_type_ids from the processor's own padding, so the
    # processor must pad on the left too (a saved thinkvl tokenizer comes back right-padding: see README).
    bundle.processor.tokenizer.padding_side = "left"
    completions = args.prompts * args.group_size
    config = GRPOConfig(
        output_dir=str(out),
        use_cpu=True,
        bf16=False,
        fp16=False,
        activation_checkpointing=False,  # TRL's default is on; ours never recomputes activations
        per_device_train_batch_size=completions,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=args.group_size,
        num_iterations=1,
        max_completion_length=args.max_tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        generation_kwargs={"suppress_tokens": suppressed},
        beta=0.0,
        epsilon=0.2,
        epsilon_high=0.28,
        loss_type="grpo",
        scale_rewards="group",
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        optim="adamw_torch",
        max_grad_norm=1.0,
        max_steps=args.steps + 1,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=args.seed,
    )
    step_ends: list[tuple[float, float]] = []  # (wall, CPU) clock at each step's end
    clock = PhaseClock()
    snaps: list[dict[str, float]] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, *_: Any, **__: Any) -> None:
            step_ends.append((time.perf_counter(), time.process_time()))
            snaps.append(clock.snapshot())

    log: list[tuple[int, float]] = []
    trainer = GRPOTrainer(
        model=bundle.model,
        reward_funcs=[make_trl_reward_fn(bundle.tokenizer, log)],
        args=config,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=bundle.processor,
        callbacks=[StepTimer()],
    )
    trainer.remove_callback(PrinterCallback)  # its end-of-train metrics dump would bury our lines
    if trainer.model.is_gradient_checkpointing:
        raise RuntimeError("TRL kept gradient checkpointing on: the comparison would not be equal")
    # TRL's own phases: `_generate` (tokenise prompts + sample), `_calculate_rewards` (the reward function);
    # the rest of a step (forward/backward/optimizer, advantages, bookkeeping) is the update.
    clock.wrap(trainer, "_generate", "generation")
    clock.wrap(trainer, "_calculate_rewards", "scoring")
    return trainer, (step_ends, snaps), log, trl.__version__


def timed_ours(trainer: RLCSTrainer) -> PhaseClock:
    clock = PhaseClock()
    clock.wrap(trainer, "rollout", "generation")
    clock.wrap(trainer, "score", "scoring")
    clock.wrap(trainer, "update", "update")
    return clock


def run_ours(trainer: RLCSTrainer, engine: CountingEngine, clock: PhaseClock, steps: int) -> tuple[list, ...]:
    """Per timed step: wall seconds, completion tokens, mean reward, phase split, CPU seconds."""
    trainer.step()  # warm-up, untimed (as TRL's first step of a round)
    times, tokens, rewards, snaps, cpu = [], [], [], [clock.snapshot()], []
    for _ in range(steps):
        before = engine.tokens
        start, start_cpu = time.perf_counter(), time.process_time()
        metrics = trainer.step()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        snaps.append(clock.snapshot())
        tokens.append(engine.tokens - before)
        rewards.append(metrics["rewards/mean"])
    return times, tokens, rewards, phase_split(snaps, times, cpu), cpu


def run_trl(trainer: Any, timing: tuple[list, list], log: list[tuple[int, float]], steps: int) -> tuple[list, ...]:
    """As `run_ours`, for TRL's trainer (one `train()` of ``steps`` + 1 steps)."""
    step_ends, snaps = timing
    step_ends.clear()
    snaps.clear()
    log.clear()
    trainer.train()
    if len(step_ends) != steps + 1 or len(log) != steps + 1:
        raise RuntimeError(f"TRL ran {len(step_ends)} steps and {len(log)} generations, expected {steps + 1}")
    times = [b[0] - a[0] for a, b in zip(step_ends, step_ends[1:])]
    cpu = [b[1] - a[1] for a, b in zip(step_ends, step_ends[1:])]
    phases = phase_split(snaps, times, cpu, rest="update")
    return times, [n for n, _ in log[1:]], [r for _, r in log[1:]], phases, cpu


def _split(phases: list[dict[str, float]], prefix: str = "") -> str:
    """Mean seconds per step by phase (``prefix="cpu "``: CPU seconds), and each phase's share of the step."""
    keys = (*PHASES, "other")
    mean = {k: sum(p[prefix + k] for p in phases) / len(phases) for k in keys}
    total = sum(mean.values()) or 1.0
    return ", ".join(f"{k} {mean[k]:.2f} s ({mean[k] / total:.0%})" for k in keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model directory (default: a fresh tiny glm4v)")
    ap.add_argument("--n", type=int, default=8, help="records per image domain (levels 0 and 1)")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=4, help="prompts per step")
    ap.add_argument("--max-tokens", type=int, default=64, help="max completion tokens (our thinking budget)")
    ap.add_argument("--forced-answering", choices=["off", "on"], default="off")
    ap.add_argument("--answer-budget", type=int, default=16, help="our extra answering tokens when forcing is on")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per side per round (after one warm-up)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds; the side that goes first alternates")
    ap.add_argument("--lr", type=float, default=1e-6)
    add_threads_argument(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="G=4, 2 prompts, 32 tokens, 1 round of 1 timed step")
    args = ap.parse_args()
    if args.quick:
        args.n, args.group_size, args.prompts, args.max_tokens, args.steps, args.rounds = 2, 4, 2, 32, 1, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_dataset(tmp / "data", domains=IMAGE_DOMAINS, n=args.n, seed=args.seed, levels=[0, 1])
        dataset = load_records(tmp / "data")
        dataset.records = [r for r in dataset.records if modality(r) == "image"]
        if args.model:
            model_dir = Path(args.model)
        else:
            model_dir = save_bundle(
                create_bundle("tiny", corpus=dataset_corpus(dataset), seed=args.seed), tmp / "model"
            )
        cfg = RLConfig(
            model=str(model_dir),
            data=str(tmp / "data"),
            out=str(tmp / "rl"),
            group_size=args.group_size,
            prompts_per_iteration=args.prompts,
            rollout_batch_size=args.prompts,
            temperature=1.0,
            top_p=1.0,
            thinking_budget=args.max_tokens,
            answer_budget=args.answer_budget,
            mini_batch_size=args.prompts * args.group_size,
            micro_batch_size=args.prompts * args.group_size,
            dynamic_sampling=False,
            curriculum=False,
            kl_coef=0.0,
            entropy_coef=0.0,
            lr=args.lr,
            seed=args.seed,
        )
        bundle = load_bundle(model_dir)
        engine = CountingEngine(bundle, args.prompts, force=args.forced_answering == "on")
        ours = RLCSTrainer(cfg, bundle, dataset, default_system(), engine)
        ours_clock = timed_ours(ours)
        rows = trl_rows(dataset.records, dataset.root)
        trl_trainer, trl_timing, trl_log, trl_version = build_trl(args, model_dir, rows, tmp / "trl", engine.suppressed)
        same, total = reward_parity(dataset.records, rows, bundle.tokenizer)

        print(
            f"torch {torch.__version__}, TRL {trl_version}, {args.threads} threads, load average "
            f"{os.getloadavg()[0]:.1f}; model "
            f"{args.model or 'fresh tiny glm4v'} ({bundle.num_parameters:,} params); {len(dataset.records)} image "
            f"records ({', '.join(IMAGE_DOMAINS)}; levels 0-1)"
        )
        print(
            f"both: G={args.group_size}, {args.prompts} prompts/step ({args.prompts * args.group_size} completions), "
            f"max {args.max_tokens} completion tokens, temperature 1, top_p 1, no KL, clip 0.2/0.28, "
            f"per-sequence loss averaging, lr {args.lr} constant, 1 optimizer step/step, stop ids {engine.stop_ids}, "
            f"{len(engine.suppressed)} suppressed ids"
        )
        print(
            f"ours: dynamic sampling off, curriculum off, forced answering {args.forced_answering}"
            + (f" (+{args.answer_budget} answer tokens)" if args.forced_answering == "on" else "")
            + f", tis_cap {cfg.tis_cap}; TRL: loss_type=grpo, beta=0, gradient_checkpointing off, no IS correction"
        )
        print(f"reward parity on reference answers: {same}/{total} records score the same on both sides")
        print(
            "not equal: image domains only (TRL has no video); "
            + ("our forced answering adds an answering pass; " if args.forced_answering == "on" else "")
            + "ours applies a truncated importance weight, TRL none; TRL's reward decodes completion_ids with special "
            "tokens kept (TRL strips them); TRL's processor set to left padding"
        )

        results: dict[str, dict[str, list]] = {side: {k: [] for k in "tnrpc"} for side in ("ours", "trl")}
        round_tps: dict[str, list[float]] = {"ours": [], "trl": []}
        round_cpu: dict[str, list[float]] = {"ours": [], "trl": []}
        for r in range(args.rounds):
            for side in ("ours", "trl") if r % 2 == 0 else ("trl", "ours"):
                if side == "ours":
                    measured = run_ours(ours, engine, ours_clock, args.steps)
                else:
                    measured = run_trl(trl_trainer, trl_timing, trl_log, args.steps)
                for key, values in zip("tnrpc", measured):
                    results[side][key] += values
                times, tokens, _, phases, _ = measured
                round_tps[side].append(sum(tokens) / sum(times))
                round_cpu[side].append(sum(tokens) / sum(measured[4]))
                print(
                    f"round {r + 1} {side:>4}: {round_tps[side][-1]:7,.0f} completion tokens/s "
                    f"({sum(tokens)} tokens in {sum(times):.1f} s, {sum(measured[4]):.1f} CPU s, over {len(times)} "
                    f"steps; {_split(phases)})",
                    flush=True,
                )

    tps = {side: sum(v["n"]) / sum(v["t"]) for side, v in results.items()}
    print("\n== results ==")
    for side, v in results.items():
        mean_len = sum(v["n"]) / (len(v["n"]) * args.prompts * args.group_size)
        print(
            f"{side:>4}: {tps[side]:7,.0f} completion tokens/s (rounds {min(round_tps[side]):,.0f}-"
            f"{max(round_tps[side]):,.0f}), step time median {statistics.median(v['t']):.2f} s, "
            f"mean completion length {mean_len:.1f}, mean reward {statistics.mean(v['r']):.3f}"
        )
        print(f"      per step, wall: {_split(v['p'])}")
        print(f"      per step, CPU:  {_split(v['p'], 'cpu ')}")
    ratios = [a / b for a, b in zip(round_tps["ours"], round_tps["trl"])]
    print(
        f"ratio ours/TRL: {tps['ours'] / tps['trl']:.2f}x (completion tokens/s, end to end); per round "
        f"{', '.join(f'{x:.2f}' for x in ratios)} (min {min(ratios):.2f}, max {max(ratios):.2f})"
    )
    # On a shared machine the wall clock also measures the other jobs; CPU time is what each side itself used.
    cpu_tps = {side: sum(v["n"]) / sum(v["c"]) for side, v in results.items()}
    cpu_ratios = [a / b for a, b in zip(round_cpu["ours"], round_cpu["trl"])]
    print(
        f"ratio ours/TRL per CPU second: {cpu_tps['ours'] / cpu_tps['trl']:.2f}x ({cpu_tps['ours']:,.0f} vs "
        f"{cpu_tps['trl']:,.0f} completion tokens per CPU second); per round "
        f"{', '.join(f'{x:.2f}' for x in cpu_ratios)} (min {min(cpu_ratios):.2f}, max {max(cpu_ratios):.2f}); "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
