"""A pool of verification worker processes with a hard per-task wall-clock limit.

Why processes and not ``signal.alarm`` or threads: a sympy call stuck in C-level big-integer arithmetic can't be
interrupted from inside, alarms only work on the main thread, and a thread can't be killed. Here the parent
watches the clock: a worker still on one task past the limit is killed and replaced, that task gets a
time-limit result, and the tasks queued behind it are re-sent. Workers are plain ``subprocess`` children
talking JSON lines, so this also works off the main thread and inside other pools' worker processes (where
``multiprocessing`` may not start children).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from thinkvl.reward.verdict import RewardError

_MAX_INFLIGHT = 64
_MAX_INFLIGHT_BYTES = 32 * 1024  # well under a pipe's 64 KiB buffer: a send never blocks on a busy worker
_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def _child_env() -> dict[str, str]:
    """The parent's environment, with its import path, so plugin modules import in the worker too."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    # A worker runs one verification at a time: BLAS thread pools would only add start-up time and memory.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


class _Worker:
    def __init__(self, setup: bytes, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "thinkvl.reward.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self.fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self.buf = b""
        self.inflight: deque[tuple[int, int]] = deque()  # (task index, payload bytes), oldest first
        self.inflight_bytes = 0
        self.head_since = 0.0  # when the oldest in-flight task started running
        self.ready = False  # set by the worker's first line, once its imports are done
        self.started = time.monotonic()
        self._write(setup)

    def _write(self, data: bytes) -> None:
        self.proc.stdin.write(data)  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.kill()
                    raise RewardError(f"a reward worker did not start within {timeout:g}s")
                data = os.read(self.fd, 65536)
                if not data:
                    self.kill()
                    raise RewardError("a reward worker exited while starting (see its stderr above)")
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        self.on_ready(json.loads(line))

    def on_ready(self, msg: dict[str, Any]) -> None:
        if not msg.get("ready"):
            self.kill()
            raise RewardError(f"a reward worker failed to start: {msg.get('error')}")
        self.ready = True

    def can_take(self, size: int) -> bool:
        if not self.ready:
            return False
        if not self.inflight:
            return True
        return len(self.inflight) < _MAX_INFLIGHT and self.inflight_bytes + size <= _MAX_INFLIGHT_BYTES

    def send(self, index: int, payload: bytes) -> None:
        if not self.inflight:
            self.head_since = time.monotonic()
        self.inflight.append((index, len(payload)))
        self.inflight_bytes += len(payload)
        self._write(payload)

    def read_lines(self) -> list[bytes] | None:
        """Complete lines available now; None when the worker has exited."""
        data = os.read(self.fd, 1 << 16)
        if not data:
            return None
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return lines

    def finish_head(self) -> int:
        index, size = self.inflight.popleft()
        self.inflight_bytes -= size
        self.head_since = time.monotonic()
        return index

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self.proc.wait()


class WorkerPool:
    """``size`` persistent worker processes scoring tasks under a hard per-task time limit."""

    def __init__(self, config_dict: dict[str, Any], plugins: list[str], size: int, time_limit_s: float,
                 startup_timeout_s: float = 120.0):  # fmt: skip
        if size < 1:
            raise RewardError("workers must be >= 1")
        self.setup = json.dumps({"config": config_dict, "plugins": plugins}).encode() + b"\n"
        self.limit, self.startup_timeout = time_limit_s, startup_timeout_s
        self.env = _child_env()
        self.workers: list[_Worker] = []
        try:
            self.workers = [_Worker(self.setup, self.env) for _ in range(size)]
            for w in self.workers:
                w.wait_ready(startup_timeout_s)
        except BaseException:
            self.close()
            raise
        _LIVE.add(self)

    @property
    def size(self) -> int:
        return len(self.workers)

    def _replace(self, sel: selectors.BaseSelector, worker: _Worker) -> _Worker:
        """Kill a worker and start its replacement without waiting for it: the pool goes on meanwhile."""
        sel.unregister(worker.fd)
        worker.kill()
        fresh = _Worker(self.setup, self.env)
        self.workers[self.workers.index(worker)] = fresh
        sel.register(fresh.fd, selectors.EVENT_READ, fresh)
        return fresh

    def map(self, tasks: list[dict[str, Any]], on_done: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """Results in task order: ``{"verdict": …}``, ``{"error": …}``, ``{"timeout": limit}`` or ``{"crash": …}``."""
        n = len(tasks)
        payloads = [json.dumps({**task, "id": k}).encode() + b"\n" for k, task in enumerate(tasks)]
        results: list[dict[str, Any] | None] = [None] * n
        pending = deque(range(n))
        done = 0

        def settle(index: int, result: dict[str, Any]) -> None:
            nonlocal done
            results[index] = result
            done += 1
            if on_done is not None:
                on_done(1)

        def lose_worker(worker: _Worker, result: dict[str, Any]) -> None:
            """The worker's current task fails with ``result``; tasks queued behind it go back to the queue."""
            if worker.inflight:
                settle(worker.inflight[0][0], result)
                pending.extendleft(reversed([index for index, _ in list(worker.inflight)[1:]]))
            self._replace(sel, worker)

        with selectors.DefaultSelector() as sel:
            for w in self.workers:
                sel.register(w.fd, selectors.EVENT_READ, w)
            while done < n:
                for w in list(self.workers):
                    while pending and w.can_take(len(payloads[pending[0]])):
                        index = pending.popleft()
                        try:
                            w.send(index, payloads[index])
                        except (BrokenPipeError, OSError):
                            pending.appendleft(index)
                            w.inflight.pop()
                            lose_worker(w, {"crash": "worker pipe closed"})
                            break
                busy = [w.head_since + self.limit for w in self.workers if w.inflight]
                busy += [w.started + self.startup_timeout for w in self.workers if not w.ready]
                wait = max(0.0, min(busy) - time.monotonic()) if busy else None
                for key, _ in sel.select(wait):
                    worker: _Worker = key.data
                    lines = worker.read_lines()
                    if lines is None and not worker.ready:
                        raise RewardError("a reward worker exited while starting (see its stderr above)")
                    if lines is None:
                        lose_worker(worker, {"crash": f"worker exited with code {worker.proc.wait()}"})
                        continue
                    for line in lines:
                        msg = json.loads(line)
                        if not worker.ready:
                            worker.on_ready(msg)
                            continue
                        index = worker.finish_head()
                        if msg.get("id") != index:
                            raise RewardError(f"reward worker protocol error: got id {msg.get('id')}, expected {index}")
                        settle(index, msg)
                now = time.monotonic()
                for w in list(self.workers):
                    if w.inflight and now - w.head_since > self.limit:
                        lose_worker(w, {"timeout": self.limit})
                    elif not w.ready and now - w.started > self.startup_timeout:
                        raise RewardError(f"a reward worker did not start within {self.startup_timeout:g}s")
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []


@atexit.register
def _close_all() -> None:
    for pool in list(_LIVE):
        pool.close()
