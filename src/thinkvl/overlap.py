"""Two independent CPU jobs at once, each in its own process, the cores split between them.

Sampling from the tiny demo model gains almost nothing from a second thread: each decoding step's matrices are
too small to split (the demo's sampled held-out evaluation took 41 s on one thread and 42 s on two, on the 2-core
machine). So two such jobs side by side take about as long as the longer one alone. On that machine the answers
came out the same (the grades and per-item sampled results byte-identical to a one-job-at-a-time run).
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

import torch

# Seconds a job's process may take to exit after sending its result (its reward workers and imports unwind).
EXIT_WAIT = 30.0

A = TypeVar("A")
B = TypeVar("B")


def split_threads(total: int) -> tuple[int, int]:
    """(threads for the first job, for the second): half each, at least one."""
    second = max(1, total // 2)
    return max(1, total - second), second


class _ChildTraceback(Exception):
    """The traceback of an error raised in a side-by-side job's process (an exception's own does not cross)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _child(connection: Connection, threads: int, job: Callable[[], Any]) -> None:
    """A side-by-side job's process: run ``job`` on ``threads`` threads, send (ok, result or error, seconds,
    the error's traceback)."""
    # Terminated by the caller (an interrupt, or the other job's process failing to start): unwind, so that
    # context managers close (the reward system's verification workers) before the process exits.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    torch.set_num_threads(threads)  # once, first thing: a process's thread count is not changed back and forth
    start = time.perf_counter()
    try:
        outcome: tuple[bool, Any, float, str] = (True, job(), time.perf_counter() - start, "")
    except BaseException as error:  # handed to the caller, which raises it
        outcome = (False, error, time.perf_counter() - start, traceback.format_exc())
    try:
        connection.send(outcome)
    except (BrokenPipeError, OSError):
        pass  # the caller has stopped listening (interrupted)
    except Exception as error:  # a result or error that does not pickle
        connection.send((False, RuntimeError(f"{type(error).__name__}: {error}"), 0.0, traceback.format_exc()))
    connection.close()


def _outcome(process: BaseProcess, connection: Connection) -> tuple[bool, Any, float, str]:
    """The job's (ok, result or error, seconds, traceback); waits in short slices so that Ctrl-C is seen at once."""
    while not wait([connection], timeout=0.5):
        pass
    try:
        return connection.recv()
    except EOFError:  # the process died without a word (killed, out of memory)
        process.join()
        return False, RuntimeError(f"a side-by-side job's process died (exit code {process.exitcode})"), 0.0, ""


def run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B, float, float]:
    """Run ``first`` and ``second`` at once, each in a fresh (spawned) process with half the threads; return both
    results and the seconds each took in its process.

    The caller's process is left as it was: no job runs in it and its thread count is not touched. (What a process
    did before changes the last bits of its later RL updates: measured, one that went down to one thread and back,
    or that had run an evaluation, against a fresh one.) Both jobs must be picklable (module-level functions, or
    `functools.partial` of them). An exception in either is raised here, after both have finished. An interrupt
    (Ctrl-C) or any error here stops both processes before it propagates: nothing is left running. Spawned, not
    forked: a fork of a process whose OpenMP pool has run can hang."""
    threads = split_threads(torch.get_num_threads())
    context = multiprocessing.get_context("spawn")
    children: list[tuple[BaseProcess, Connection]] = []
    try:
        for n, job in zip(threads, (first, second)):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(send, n, job), name="thinkvl-side-by-side")
            process.start()
            send.close()  # the child holds the sending end: its death reads as EOF here
            children.append((process, receive))
        outcomes = [_outcome(process, receive) for process, receive in children]
    except BaseException:  # an interrupt or error here: nothing is left running
        _stop(children, exit_wait=0.0)
        raise
    _stop(children, exit_wait=EXIT_WAIT)  # both have answered: let them exit on their own
    for ok, value, _, where in outcomes:
        if not ok:
            raise value from (_ChildTraceback(where) if where else None)
    (_, first_result, first_seconds, _), (_, second_result, second_seconds, _) = outcomes
    return first_result, second_result, first_seconds, second_seconds


def _stop(children: list[tuple[BaseProcess, Connection]], exit_wait: float, grace: float = 10.0) -> None:
    """Wait up to ``exit_wait`` seconds for the processes to exit, terminate those still running (they unwind on
    SIGTERM), and kill any that outlive ``grace`` seconds more."""
    for timeout, stop in ((exit_wait, BaseProcess.terminate), (grace, BaseProcess.kill)):
        deadline = time.monotonic() + timeout
        for process, _ in children:
            process.join(max(0.0, deadline - time.monotonic()))
        for process, _ in children:
            if process.is_alive():
                stop(process)
    for process, connection in children:
        process.join()
        connection.close()
