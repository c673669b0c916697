"""The table of task families (one per domain) and the one place a `Sample` becomes a `Record`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thinkvl.data.record import Record
from thinkvl.data.synth import arithmetic, chart, choice, counting, grounding, ocr, video
from thinkvl.data.synth.base import Sample, TaskContext, box_string

Generator = Callable[[TaskContext], Sample]


@dataclass(frozen=True)
class TaskFamily:
    """A domain's generators, one per difficulty level (index 0 is the easiest)."""

    domain: str
    levels: tuple[Generator, ...]
    summary: str  # the first line of the module docstring


def _family(domain: str, module: Any) -> TaskFamily:
    return TaskFamily(domain, tuple(module.GENERATORS), module.__doc__.strip().splitlines()[0])


FAMILIES: dict[str, TaskFamily] = {
    f.domain: f
    for f in (
        _family("counting", counting),
        _family("chart", chart),
        _family("ocr", ocr),
        _family("grounding", grounding),
        _family("math", arithmetic),
        _family("choice", choice),
        _family("video", video),
    )
}


def family(domain: str) -> TaskFamily:
    """The task family of ``domain``; an unknown domain is an error that lists the known ones."""
    try:
        return FAMILIES[domain]
    except KeyError:
        raise ValueError(f"no synthetic generator for domain {domain!r}; known: {', '.join(FAMILIES)}") from None


def generate(domain: str, level: int, slot: int, seed: int = 0, attempt: int = 0) -> Sample:
    """The sample at ``slot`` of ``domain`` at difficulty ``level``; the same arguments give the same pixels.
    ``attempt`` > 0 re-draws the slot (same balanced answer class, other free choices)."""
    levels = family(domain).levels
    if not 0 <= level < len(levels):
        raise ValueError(f"domain {domain!r} has levels 0–{len(levels) - 1}, not {level}")
    if slot < 0:
        raise ValueError(f"slot must be >= 0, got {slot}")
    return levels[level](TaskContext(seed, domain, level, slot, attempt))


def record_id(domain: str, level: int, slot: int) -> str:
    """Stable across runs: the same (domain, level, slot) always gets the same id."""
    return f"{domain}-{level}-{slot:05d}"


def to_record(sample: Sample, domain: str, level: int, slot: int, media: list[str]) -> Record:
    """Build and validate the record of ``sample`` whose image (or frames, in order) are at ``media``."""
    rid = record_id(domain, level, slot)
    if sample.frames:
        visual = {"type": "video", "video": list(media), "fps": sample.fps}
    else:
        visual = {"type": "image", "image": media[0]}
    meta = {
        "caption": sample.caption,
        "reasoning": sample.reasoning,
        "answer_text": sample.answer_text,
        "boxed": box_string(sample.answer),
        **sample.meta,
    }
    record = Record(
        id=rid,
        domain=domain,
        messages=[{"role": "user", "content": [visual, {"type": "text", "text": sample.question}]}],
        answer=sample.answer,
        difficulty=level,
        meta=meta,
    )
    record.validate()
    return record
