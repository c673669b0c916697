"""The filter chain: parse lines into records, run the stateless filters, compute dedup keys; then admit.

`Chain.process` is pure (same lines → same outcomes), so it runs in worker processes or Ray tasks;
`Sink.consume` is the one stateful step, run in input order in one place: the dedup index decides, kept records
are written, drops are counted and sampled. Both runners (local processes, Ray Data) are these two pieces with
different plumbing in between.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkvl.data.pipeline.base import Filter, Sample, short
from thinkvl.data.pipeline.config import (
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    RelevanceConfig,
    TextQualityConfig,
)
from thinkvl.data.pipeline.dedup import DedupIndex, DedupKeyer, DedupKeys
from thinkvl.data.pipeline.stream import DatasetWriter, FilterReport, Line
from thinkvl.data.record import DEFAULT_MAX_IMAGE_PIXELS, MediaPathError, Record, RecordError, media_path

READ = "read"  # the stage that drops lines that are not valid records
WRITE = "write"  # the stage that drops records whose media can't be placed in the output


@dataclass
class Outcome:
    """The fate of one input line after the stateless part of the chain."""

    line_no: int
    record: dict[str, Any] | None = None
    raw: str | None = None  # an excerpt of a line that didn't parse
    stage: str | None = None  # the stage that dropped it; None: still in
    reason: str | None = None
    keys: DedupKeys | None = None
    media: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("line_no", "record", "raw", "stage", "reason")}
        out["keys"] = None if self.keys is None else self.keys.to_json()
        out["media"] = list(self.media)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        keys = data.get("keys")
        return cls(
            line_no=data["line_no"],
            record=data.get("record"),
            raw=data.get("raw"),
            stage=data.get("stage"),
            reason=data.get("reason"),
            keys=None if keys is None else DedupKeys.from_json(keys),
            media=tuple(data.get("media") or ()),
        )


def build_filter(cfg: Any) -> Filter:
    if isinstance(cfg, ImageQualityConfig):
        from thinkvl.data.pipeline.image_quality import ImageQualityFilter

        return ImageQualityFilter(cfg)
    if isinstance(cfg, TextQualityConfig):
        from thinkvl.data.pipeline.text_quality import TextQualityFilter

        return TextQualityFilter(cfg)
    if isinstance(cfg, RelevanceConfig):
        from thinkvl.data.pipeline.relevance import RelevanceFilter  # imports torch: only when used

        return RelevanceFilter(cfg)
    raise TypeError(f"not a stateless filter config: {cfg!r}")


def parse_line(line_no: int, line: bytes | None, root: Path) -> tuple[Record | None, str | None, str | None]:
    """(record, None, None) or (None, drop reason, raw excerpt)."""
    if line is None:
        return None, "line_too_long: over max_line_bytes", None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"bad_utf8: {err}", short(line.decode("utf-8", "replace"))
    try:
        record = Record.from_dict(json.loads(text))
    except ValueError as err:  # json.JSONDecodeError and RecordError are both ValueErrors
        code = "bad_record" if isinstance(err, RecordError) else "bad_json"
        return None, f"{code}: {short(str(err), 300)}", short(text)
    except RecursionError:
        return None, "bad_json: nested too deeply", short(text)
    for where, rel in record.media():
        try:
            media_path(root, rel)
        except MediaPathError as err:
            return None, f"bad_media_path: {where} {short(str(err), 300)}", short(text)
    return record, None, None


class Chain:
    """The stateless part of a run, built from the config; one per worker process."""

    def __init__(self, cfg: FilterPipelineConfig):
        self.cfg = cfg
        self.root = Path(cfg.input)
        self.filters = [build_filter(f) for f in cfg.filters if not isinstance(f, DedupConfig)]
        dedup = [f for f in cfg.filters if isinstance(f, DedupConfig)]
        self.keyer = DedupKeyer(dedup[0]) if dedup else None
        quality = [f for f in cfg.filters if isinstance(f, ImageQualityConfig)]
        self.max_pixels = quality[0].max_pixels if quality else DEFAULT_MAX_IMAGE_PIXELS

    @property
    def stages(self) -> list[str]:
        return [READ] + [f.name for f in self.filters] + (["dedup"] if self.keyer else [])

    def setup(self) -> None:
        for f in self.filters:
            f.setup()

    def process(self, lines: list[Line]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        live: list[tuple[Outcome, Sample]] = []
        for line_no, line in lines:
            record, reason, raw = parse_line(line_no, line, self.root)
            if record is None:
                outcomes.append(Outcome(line_no, raw=raw, stage=READ, reason=reason))
                continue
            out = Outcome(line_no, media=tuple(rel for _, rel in record.media()))
            outcomes.append(out)
            live.append((out, Sample(record, self.root, self.cfg.text_field, self.max_pixels)))
        step = self.cfg.batch_size
        for start in range(0, len(live), step):  # batches bound how many decoded images are alive at once
            self._run_batch(live[start : start + step])
        return outcomes

    def _run_batch(self, everything: list[tuple[Outcome, Sample]]) -> None:
        batch = everything
        for f in self.filters:
            reasons = _check_safely(f, [s for _, s in batch])
            batch = [(o, s) for (o, s), r in zip(batch, reasons, strict=True) if not _drop(o, f.name, r)]
        for out, sample in batch:
            if self.keyer is not None:
                try:
                    keys = self.keyer.keys(sample)
                except Exception as err:  # a record must never stop the run
                    keys = f"error: {type(err).__name__}: {short(str(err))}"
                if isinstance(keys, str):
                    _drop(out, "dedup", keys)
                    continue
                out.keys = keys
        for out, sample in everything:  # dropped ones too: their samples show the record
            out.record = sample.record.to_dict()
            sample._image = None  # free the decoded image now, not when the chunk ends


def _drop(out: Outcome, stage: str, reason: str | None) -> bool:
    if reason is None:
        return False
    out.stage, out.reason = stage, reason
    return True


def _check_safely(f: Filter, samples: list[Sample]) -> list[str | None]:
    """A filter's verdicts; if it raises on the batch, retry one by one and drop only the records that raise."""
    try:
        return f.check(samples)
    except Exception:
        pass
    reasons: list[str | None] = []
    for sample in samples:
        try:
            reasons.append(f.check([sample])[0])
        except Exception as err:
            reasons.append(f"error: {type(err).__name__}: {short(str(err))}")
    return reasons


class Sink:
    """The stateful end of a run: dedup decisions in input order, output writing, the report."""

    def __init__(self, cfg: FilterPipelineConfig, stages: list[str]):
        self.cfg = cfg
        dedup = [f for f in cfg.filters if isinstance(f, DedupConfig)]
        self.index = DedupIndex(dedup[0]) if dedup else None
        self._order = [*stages, WRITE]
        self.report = FilterReport(self._order, cfg.dropped_samples)
        self.writer = DatasetWriter(cfg.output, cfg.input, cfg.media)

    def consume(self, outcomes: list[Outcome]) -> None:
        for out in outcomes:
            self.report.records_in += 1
            stage = self._admit(out)
            if stage is None:
                stage = self._write(out)
            last = self._order.index(stage) if stage else len(self._order) - 1
            for name in self._order[: last + 1]:
                self.report.stages[name].seen += 1
            if stage is not None:
                self.report.drop(stage, out.reason or "", out.line_no, out.record, out.raw)
            else:
                self.report.records_out += 1
        self.writer.flush()

    def _write(self, out: Outcome) -> str | None:
        assert out.record is not None
        try:
            self.writer.write(out.record, list(out.media))
        except OSError as err:  # a media file that vanished or can't be linked or copied
            out.stage, out.reason = WRITE, f"media_io: {err}"
            return WRITE
        return None

    def _admit(self, out: Outcome) -> str | None:
        if out.stage is not None:
            return out.stage
        if self.index is not None and out.keys is not None and out.record is not None:
            reason = self.index.admit(out.record["id"], out.keys)
            if reason is not None:
                out.stage, out.reason = "dedup", reason
                return "dedup"
        return None

    def close(self) -> FilterReport:
        self.writer.close()
        if self.index is not None:
            self.report.extra["dedup_index_bytes"] = self.index.nbytes
            self.report.extra["dedup_kept"] = len(self.index.kept_ids)
        self.report.write(self.cfg.output)
        return self.report
