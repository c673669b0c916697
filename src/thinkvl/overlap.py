"""Two independent CPU jobs at once, each in its own process, the cores split between them.

Sampling from the tiny demo model gains almost nothing from a second thread: each decoding step's matrices are
too small to split (the demo's sampled held-out evaluation took 41 s on one thread and 42 s on two, on the 2-core
machine). So two such jobs side by side take about as long as the longer one alone. On that machine the answers
came out the same (the grades and per-item sampled results byte-identical to a one-job-at-a-time run).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from typing import TypeVar

import torch

A = TypeVar("A")
B = TypeVar("B")


def split_threads(total: int) -> tuple[int, int]:
    """(threads for the first job, for the second): half each, at least one."""
    second = max(1, total // 2)
    return max(1, total - second), second


def _timed(threads: int, fn: Callable[[], A]) -> tuple[A, float]:
    torch.set_num_threads(threads)  # once, first thing: a process's thread count is not changed back and forth
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


def run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B, float, float]:
    """Run ``first`` and ``second`` at once, each in a fresh (spawned) process with half the threads; return both
    results and the seconds each took in its process.

    The caller's process is left as it was: no job runs in it and its thread count is not touched. (What a process
    did before changes the last bits of its later RL updates: measured, one that went down to one thread and back,
    or that had run an evaluation, against a fresh one.) Both jobs must be picklable (module-level functions, or
    `functools.partial` of them). An exception in either is raised here, after both have finished. Spawned, not
    forked: a fork of a process whose OpenMP pool has run can hang."""
    threads = split_threads(torch.get_num_threads())
    context = multiprocessing.get_context("spawn")
    # One pool per job: a two-worker pool may hand both jobs to the one worker that started first.
    with ExitStack() as stack:
        pools = [stack.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=context)) for _ in range(2)]
        futures = [pool.submit(_timed, n, job) for pool, n, job in zip(pools, threads, (first, second))]
        (first_result, first_seconds), (second_result, second_seconds) = [f.result() for f in futures]
    return first_result, second_result, first_seconds, second_seconds
