"""Run the filter chain on one machine: streaming chunks through a pool of worker processes.

Order is preserved: chunks are submitted in input order and their results consumed in submission order, so
the output (and which copy of a duplicate is kept) is the same for any number of workers. At most
``2 * workers`` chunks are in flight, which bounds memory whatever the input size.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from thinkvl.data.loaders import RECORDS_FILE
from thinkvl.data.pipeline.chain import Chain, Outcome, Sink
from thinkvl.data.pipeline.config import ConfigError, FilterPipelineConfig, RelevanceConfig
from thinkvl.data.pipeline.stream import FilterReport, Line, read_chunks

_WORKER_CHAIN: Chain | None = None


def _init_worker(cfg: FilterPipelineConfig) -> None:
    global _WORKER_CHAIN
    if any(isinstance(f, RelevanceConfig) for f in cfg.filters):
        import torch

        torch.set_num_threads(cfg.torch_threads)  # workers * threads must not oversubscribe the cores
    _WORKER_CHAIN = Chain(cfg)
    _WORKER_CHAIN.setup()


def _process_in_worker(lines: list[Line]) -> list[Outcome]:
    assert _WORKER_CHAIN is not None, "worker not initialised"
    return _WORKER_CHAIN.process(lines)


def check_paths(cfg: FilterPipelineConfig) -> Path:
    """The input records file; errors name what is wrong before any work starts."""
    src = Path(cfg.input) / RECORDS_FILE
    if not src.is_file():
        raise ConfigError(f"input: no {RECORDS_FILE} in {cfg.input}")
    out = Path(cfg.output) / RECORDS_FILE
    if out.exists() and not cfg.overwrite:
        raise ConfigError(f"output: {out} already exists (set overwrite: true to replace it)")
    return src


def _ordered_results(cfg: FilterPipelineConfig, chunks: Iterator[tuple[list[Line], int]]):
    """(outcomes, bytes) per chunk, in input order, from ``cfg.workers`` processes."""
    ctx = _mp_context()
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_init_worker, initargs=(cfg,)) as pool:
        pending: deque[tuple[Future[list[Outcome]], int]] = deque()
        for lines, used in chunks:
            pending.append((pool.submit(_process_in_worker, lines), used))
            if len(pending) >= 2 * cfg.workers:
                fut, n = pending.popleft()
                yield fut.result(), n
        while pending:
            fut, n = pending.popleft()
            yield fut.result(), n


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available, else spawn; never plain fork.

    A forked child of a process that already ran torch can deadlock in its thread pools. The fork server is a
    fresh process that imports the chain's modules once (preload), so workers start without re-importing them.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["thinkvl.data.pipeline.chain"])
        return ctx
    return multiprocessing.get_context("spawn")


def run_filter_pipeline(cfg: FilterPipelineConfig, *, progress: bool = False) -> FilterReport:
    """Filter ``cfg.input`` into ``cfg.output``; returns the report (also written as report.json)."""
    src = check_paths(cfg)
    start = time.perf_counter()
    chain = Chain(cfg)
    sink = Sink(cfg, chain.stages)
    chunks = read_chunks(src, cfg.chunk_size, cfg.max_line_bytes)
    if cfg.workers == 1:
        chain.setup()
        results = ((chain.process(lines), used) for lines, used in chunks)
    else:
        results = _ordered_results(cfg, chunks)
    bar = tqdm(total=src.stat().st_size, unit="B", unit_scale=True, desc="filter", disable=not progress)
    try:
        for outcomes, used in results:
            sink.consume(outcomes)
            sink.report.mark_startup(time.perf_counter() - start)
            bar.update(used)
            bar.set_postfix(kept=sink.report.records_out, seen=sink.report.records_in, refresh=False)
    finally:
        bar.close()
        sink.report.seconds = time.perf_counter() - start
        report = sink.close()
    return report
