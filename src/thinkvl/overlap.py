"""Two independent CPU jobs at once, the cores split between them.

Sampling from the tiny demo model gains almost nothing from a second thread: each decoding step's matrices are
too small to split (the demo's sampled held-out evaluation took 41 s on one thread and 42 s on two, on the 2-core
machine). So two such jobs, one in a spawned process, take about as long as the longer one alone. Each side sets
its own thread count; on that machine the answers were the same either way (the grades and per-item sampled
results byte-identical to a one-job-at-a-time run).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

A = TypeVar("A")
B = TypeVar("B")


def split_threads(total: int) -> tuple[int, int]:
    """(threads here, threads for the job beside it): half each, at least one."""
    beside = max(1, total // 2)
    return max(1, total - beside), beside


@contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to ``n`` inside the block, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _timed_in_child(threads: int, fn: Callable[[], B]) -> tuple[B, float]:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


def run_beside(main: Callable[[], A], beside: Callable[[], B]) -> tuple[A, B, float]:
    """Run ``beside`` in a fresh (spawned) process while ``main`` runs here; return both results and the seconds
    ``beside`` took in its process.

    ``beside`` must be picklable (a module-level function, or a `functools.partial` of one). An exception in
    either side is raised here, after the other side has finished. Spawned, not forked: a fork of a process whose
    OpenMP pool has run can hang, and ``main`` may already have used it."""
    here, there = split_threads(torch.get_num_threads())
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_timed_in_child, there, beside)
        with torch_threads(here):
            main_result = main()
        beside_result, seconds = future.result()
    return main_result, beside_result, seconds
