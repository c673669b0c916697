"""Supervised steps with records encoded in a DataLoader worker vs in the training process: wall time and ratio.

Why: the trainer can encode and pack records in worker processes (`num_workers`, default 1) so that a large corpus
streams while the model trains. On a 2-core machine that worker competes with the trainer's own threads for the
same cores. This compares the two side by side: the demo's answers-first config (`configs/demo/sft_answer.yaml`,
which sets 0 workers since 1972b25; each run overrides it) trains the tiny preset on built-in synthetic records for
``--steps`` steps with 0 and with 1 worker, in one process, alternating which side goes first each round. Every
run starts from the same saved model and data, so the two sides should end with the same weights (checked and
printed).

    python benchmarks/sft_workers.py              # 40 steps per run, 2 rounds
    python benchmarks/sft_workers.py --quick      # 4 steps, 1 round: a smoke run

Prints each run's wall time (model loading and the first batch included), the mean per side, the ratio
1-worker / 0-worker, and whether the final weights match. Simplifications: the tiny model and synthetic records;
torch uses its default thread count unless ``--threads`` says otherwise (the demo's setting); a loaded machine
slows both sides, which the alternation spreads evenly but does not remove.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from thinkvl.config import load_yaml
from thinkvl.data.synth.writer import write_dataset
from thinkvl.demo import demo_config_path
from thinkvl.model import create_bundle, load_bundle, save_bundle
from thinkvl.train.config import StageConfig
from thinkvl.train.trainer import run_stage


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_bundle(run_dir / "model", device="cpu", dtype=torch.float32).model.state_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps per run")
    ap.add_argument("--rounds", type=int, default=2, help="runs per side, alternating which goes first")
    ap.add_argument("--per-domain", type=int, default=60, help="synthetic training records per domain")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own, as the demo)")
    ap.add_argument("--quick", action="store_true", help="4 steps, 1 round, 8 records per domain")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.rounds, args.per_domain = 4, 1, 8
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root / "data", n=args.per_domain, seed=0, levels=[0])
        save_bundle(create_bundle("tiny", seed=0, vocab_size=512), root / "model")
        times: dict[int, list[float]] = {0: [], 1: []}
        finals: dict[int, dict[str, torch.Tensor]] = {}
        for r in range(args.rounds):
            for workers in (0, 1) if r % 2 == 0 else (1, 0):
                out = root / f"run-{r}-{workers}"
                cfg = load_yaml(
                    StageConfig,
                    demo_config_path("sft_answer.yaml"),
                    data=str(root / "data"),
                    model=str(root / "model"),
                    out=str(out),
                    steps=args.steps,
                    save_every=args.steps,
                    num_workers=workers,
                    device="cpu",
                    seed=0,
                )
                start = time.perf_counter()
                run_stage(cfg, show_progress=False)
                times[workers].append(time.perf_counter() - start)
                finals[workers] = _weights(out)
                print(f"round {r}: {workers} worker(s) {times[workers][-1]:.1f} s")
        same = finals[0].keys() == finals[1].keys() and all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
    mean0, mean1 = statistics.mean(times[0]), statistics.mean(times[1])
    ratio = mean1 / mean0
    print(f"{args.steps} steps: 0 workers {mean0:.1f} s, 1 worker {mean1:.1f} s; 1-worker / 0-worker = {ratio:.2f}")
    print(f"final weights identical: {same}; load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
