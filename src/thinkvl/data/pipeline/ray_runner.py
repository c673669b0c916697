"""Run the same filter chain on Ray Data, for a cluster.

The stateless part (`Chain.process`: parsing, image and text quality, CLIP, dedup keys) runs as a Ray Data
``map_batches`` stage over actors (each loads CLIP once), spread over the cluster's CPUs or GPUs. The stateful
part (`Sink`: dedup decisions in input order, writing, the report) consumes the stream on the driver; it only
does index lookups on precomputed keys and writes lines, so the heavy work stays distributed. Order is
preserved (``preserve_order``), so a Ray run keeps exactly the records a local run keeps. Ray's text reader
does not number lines, so dropped samples carry ``line: 0`` (and the record id, where it parsed).

Outcomes cross the Ray boundary as JSON strings (one column), so nothing is pickled from untrusted input.
"""

from __future__ import annotations

import json
import time
from typing import Any

from thinkvl.data.pipeline.chain import Chain, Outcome, Sink
from thinkvl.data.pipeline.config import ConfigError, FilterPipelineConfig, RelevanceConfig
from thinkvl.data.pipeline.runner import check_paths
from thinkvl.data.pipeline.stream import FilterReport, Line


class ChainUDF:
    """A Ray Data callable class: one `Chain` per actor, applied to batches of input lines."""

    def __init__(self, cfg: FilterPipelineConfig):
        if any(isinstance(f, RelevanceConfig) for f in cfg.filters):
            import torch

            torch.set_num_threads(cfg.torch_threads)
        self.chain = Chain(cfg)
        self.chain.setup()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        limit = self.chain.cfg.max_line_bytes
        raw = [str(t).encode("latin-1") for t in batch["text"]]  # the file's exact bytes (see read_text below)
        lines: list[Line] = [(0, b if len(b) <= limit else None) for b in raw if b.strip()]
        return {"outcome": [json.dumps(o.to_json()) for o in self.chain.process(lines)]}


def _wants_gpu(cfg: FilterPipelineConfig) -> bool:
    return any(isinstance(f, RelevanceConfig) and f.device.startswith("cuda") for f in cfg.filters)


def run_filter_pipeline_ray(
    cfg: FilterPipelineConfig, *, progress: bool = False, address: str | None = None, num_cpus: int | None = None
) -> FilterReport:
    """Filter ``cfg.input`` into ``cfg.output`` on Ray Data; same outputs as `run_filter_pipeline`.

    Uses the running Ray instance if there is one (or ``address``), else starts a local one with ``num_cpus``.
    ``cfg.workers`` is the number of chain actors, each holding ``cfg.torch_threads`` CPUs (and a GPU when CLIP
    runs on cuda).
    """
    import ray
    import ray.data

    src = check_paths(cfg)
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=progress)
    cpus = ray.cluster_resources().get("CPU", 0)
    need = cfg.workers * cfg.torch_threads
    if need > cpus - 1:  # actors hold their CPUs for the whole run; the reader needs one too, or nothing moves
        raise ConfigError(
            f"workers ({cfg.workers}) x torch_threads ({cfg.torch_threads}) = {need} CPUs for chain actors, "
            f"but Ray has {cpus:g} and reading needs one more"
        )
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = progress
    start = time.perf_counter()
    chain = Chain(cfg)  # only for the stage names; its filters are never set up here
    sink = Sink(cfg, chain.stages)
    # latin-1 maps every byte to one character, so no line fails to decode inside Ray; the chain re-encodes it and
    # reports invalid UTF-8 as a dropped record, as the local runner does.
    ds = ray.data.read_text(str(src), encoding="latin-1").map_batches(
        ChainUDF,
        fn_constructor_kwargs={"cfg": cfg},
        batch_size=cfg.chunk_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.workers),
        num_cpus=cfg.torch_threads,
        num_gpus=1 if _wants_gpu(cfg) else 0,
        batch_format="numpy",
    )
    try:
        for batch in ds.iter_batches(batch_size=cfg.chunk_size, batch_format="numpy"):
            sink.consume([Outcome.from_json(json.loads(s)) for s in batch["outcome"]])
            sink.report.mark_startup(time.perf_counter() - start)
    finally:
        sink.report.seconds = time.perf_counter() - start
        report = sink.close()
    return report
