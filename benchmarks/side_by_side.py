"""Two evaluations side by side on a CPU (ours, `thinkvl.overlap.run_side_by_side`) against one after the other.

Why: `thinkvl demo` on a CPU runs its generation stages two at a time, each in its own process with half the
threads, because sampling from the tiny model gains almost nothing from a second thread. This measures that claim on
the demo's own jobs: the greedy and the sampled held-out evaluation of one model. The serial side runs each job in a
fresh spawned process with all the threads, one after the other, so both sides pay the same process start-up. The
sides alternate which goes first every round; each job writes to a fresh directory, and the script checks that both
sides produced the same tables.

    python benchmarks/side_by_side.py --model runs/demo/sft/model --data runs/demo/data/heldout
    python benchmarks/side_by_side.py                       # a perturbed tiny model and built-in records
    python benchmarks/side_by_side.py --quick               # a smoke run

Prints each run's wall time, the median per side and the ratio serial / side by side (above 1: side by side is
faster). `--threads` is the total the two jobs share (default: all of torch's threads, as the demo runs).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import torch
from common import add_model_and_data_arguments, alternating, model_and_records

from thinkvl.config import load_yaml
from thinkvl.demo import demo_config_path, evaluate, evaluate_sampled
from thinkvl.overlap import run_side_by_side
from thinkvl.rl.config import RLConfig, sampling_params


def _with_threads(threads: int, job) -> object:
    torch.set_num_threads(threads)
    return job()


def serially(jobs: list, threads: int) -> list:
    """Each job in its own fresh spawned process with ``threads`` threads, one after the other."""
    context = multiprocessing.get_context("spawn")
    results = []
    for job in jobs:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            results.append(pool.submit(_with_threads, threads, job).result())
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_and_data_arguments(ap, 60, "held-out records when --data is not given")
    ap.add_argument("--sample-k", type=int, default=2, help="sampled answers per item (the demo's default)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="threads both sides share in all")
    ap.add_argument("--quick", action="store_true", help="12 records, 1 round")
    args = ap.parse_args()
    if args.quick:
        args.records, args.rounds = 12, 1
    tmp = Path(tempfile.mkdtemp(prefix="side_by_side."))
    model_dir, dataset = model_and_records(args.model, args.data, args.records, tmp)
    data = Path(args.data) if args.data else tmp / "data"
    # The demo's RL sampling and budgets, as the demo's evaluations take them.
    params = sampling_params(load_yaml(RLConfig, demo_config_path("rl.yaml")), n=args.sample_k)
    print(f"{len(dataset.records)} held-out records, model {model_dir}, {args.threads} threads in all")

    def jobs(where: Path) -> tuple:
        budgets = (params.thinking_budget, params.answer_budget)
        greedy = partial(evaluate, model_dir, data, where / "greedy", *budgets, "cpu")
        sampled = partial(evaluate_sampled, model_dir, data, where / "sampled", params=params, device="cpu",
                          show_progress=False)  # fmt: skip
        return greedy, sampled

    torch.set_num_threads(args.threads)
    times: dict[str, list[float]] = {"serial": [], "side by side": []}
    tables: dict[str, list] = {"serial": [], "side by side": []}
    for rnd, side in alternating(list(times), args.rounds):
        greedy, sampled = jobs(tmp / f"{side.replace(' ', '_')}_{rnd}")
        start = time.perf_counter()
        if side == "serial":
            result = serially([greedy, sampled], args.threads)
        else:
            result = list(run_side_by_side(greedy, sampled)[:2])
        times[side].append(time.perf_counter() - start)
        tables[side].append(result)
        print(f"round {rnd} {side:>12}: {times[side][-1]:6.1f} s  (greedy {result[0]['all']['accuracy']:.1%}, "
              f"sampled {result[1]['all']['accuracy']:.1%})")  # fmt: skip
    serial, overlapped = statistics.median(times["serial"]), statistics.median(times["side by side"])
    same = all(t == tables["serial"][0] for side in tables for t in tables[side])
    print(f"median: serial {serial:.1f} s, side by side {overlapped:.1f} s → ratio {serial / overlapped:.2f}x")
    print(f"same greedy and sampled tables on every run: {same}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
