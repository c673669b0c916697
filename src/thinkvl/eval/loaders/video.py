"""Video benchmarks: VideoMME (without / with subtitles), VideoMMMU, MMVU, LVBench, MotionBench.

Annotations are small (parquet, JSON, JSONL); videos are downloaded separately. Each video is sampled to
``num_frames`` frames spread evenly over its length (`MediaStore.video_frames`), and the record's video part
carries the sampling rate so time-index tokens are true times. With subtitles, VideoMME's prompt holds the
subtitle lines shown at the sampled frames' times, as the benchmark's authors evaluate it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import Family, LoadContext, missing_value, option_list
from thinkvl.eval.tables import DataNotFoundError, hf_rows, read_json, read_jsonl

VIDEO_DIRS = ("data", "videos", "video", "all_videos", "")
_SRT_TIME = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+)\s*-->\s*(\d+):(\d+):(\d+)[,.](\d+)")
_TAG = re.compile(r"<[^>]+>")
_LEADING_LETTER = re.compile(r"^\(?([A-J])[.):]\s*")


def _hf(ctx: LoadContext, config: str | None = None) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    return hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, config=config, download=ctx.download, what=b.title)


def find_video(ctx: LoadContext, name: str, item: str) -> str:
    """The path (relative to the data directory) of a video file, looked for in the usual folders."""
    for base in VIDEO_DIRS:
        rel = f"{base}/{name}" if base else name
        if (ctx.source / rel).is_file():
            return rel
    raise ctx.media.missing(f"video {name} not found under {ctx.source} (looked in {', '.join(VIDEO_DIRS[:-1])})", item)


def video_part(ctx: LoadContext, rel: str, key: str, item: str) -> tuple[dict[str, Any], list[float]]:
    frames, fps, times = ctx.media.video_frames(rel, key, int(ctx.option("num_frames", 16)), item=item)
    return {"type": "video", "video": frames, "fps": fps}, times


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """SubRip subtitles as (start s, end s, text) with markup removed.

    >>> parse_srt("1\\n00:00:01,000 --> 00:00:02,500\\n<font color=white>Hello</font>\\n\\n")
    [(1.0, 2.5, 'Hello')]
    """
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.strip().split("\n")
        for i, line in enumerate(lines):
            m = _SRT_TIME.search(line)
            if m:
                h1, m1, s1, f1, h2, m2, s2, f2 = (int(g) for g in m.groups())
                start = h1 * 3600 + m1 * 60 + s1 + f1 / 10 ** len(m.group(4))
                end = h2 * 3600 + m2 * 60 + s2 + f2 / 10 ** len(m.group(8))
                body = _TAG.sub("", " ".join(lines[i + 1 :])).strip()
                if body:
                    out.append((start, end, body))
                break
    return out


def subtitles_at(subs: Sequence[tuple[float, float, str]], times: Sequence[float]) -> list[str]:
    """The subtitle lines on screen at any of ``times``, in order, each once."""
    chosen = [text for start, end, text in subs if any(start <= t <= end for t in times)]
    return list(dict.fromkeys(chosen))


def strip_option_letters(options: Sequence[str]) -> list[str]:
    """``["A. cat", "B. dog"]`` → ``["cat", "dog"]`` (VideoMME options carry their letters)."""
    return [_LEADING_LETTER.sub("", str(o).strip(), count=1) for o in options]


def split_lettered_lines(text: str) -> tuple[str, list[str]] | None:
    """``"stem\\n(A) x\\n(B) y"`` or ``"stem\\nA. x\\nB. y"`` → (stem, options), or None without such lines."""
    lines = text.strip().split("\n")
    stem, options = [], []
    for line in lines:
        m = _LEADING_LETTER.match(line.strip())
        if m and m.group(1) == "ABCDEFGHIJ"[len(options)]:
            options.append(_LEADING_LETTER.sub("", line.strip(), count=1).strip())
        elif options:
            options[-1] += " " + line.strip()
        else:
            stem.append(line)
    return ("\n".join(stem).strip(), options) if len(options) >= 2 else None


def _video_mc(
    rid: str,
    part: dict[str, Any],
    question: str,
    options: list[str],
    answer: str,
    meta: dict[str, Any],
    *,
    preamble: str = "",
) -> Record:
    text = prompts.mc_text(f"{preamble}{question}", options)
    meta = {**meta, "choices": options}
    return prompts.user_record(
        rid, "choice", [part, {"type": "text", "text": text}], prompts.strip_letter(answer), meta
    )


# ------------------------------------------------------------------ VideoMME
def _videomme_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    qid = str(row["question_id"])
    suffix = "-sub" if ctx.option("subtitles") else ""
    rid = f"videomme{suffix}-{qid}"
    video_id = str(row["videoID"])
    part, times = video_part(ctx, find_video(ctx, f"{video_id}.mp4", rid), video_id, rid)
    preamble = ""
    if ctx.option("subtitles"):
        srt = ctx.source / "subtitle" / f"{video_id}.srt"
        lines = (
            subtitles_at(parse_srt(srt.read_text(encoding="utf-8", errors="replace")), times) if srt.is_file() else []
        )
        # Some VideoMME videos have no subtitle file; they are asked without, as in the official protocol.
        if lines:
            preamble = "This video's subtitles are listed below:\n" + "\n".join(lines) + "\n"
    meta = {"duration": row.get("duration", ""), "domain": row.get("domain", ""), "task_type": row.get("task_type", "")}
    return _video_mc(
        rid, part, str(row["question"]), strip_option_letters(row["options"]), row["answer"], meta, preamble=preamble
    )


VIDEOMME = Family(rows=lambda ctx: _hf(ctx), convert=_videomme_convert)


# ------------------------------------------------------------------ VideoMMMU
def _videommmu_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    present = [c for c in ctx.bench.hf_configs if (ctx.source / c).is_dir()]
    for track in ctx.option("tracks") or present or ctx.bench.hf_configs:
        for row in _hf(ctx, track):
            yield {**row, "_track": track}


def _videommmu_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    track, item_id = row["_track"], str(row["id"])
    rid = f"videommmu-{track}-{item_id}"
    try:
        rel = find_video(ctx, f"{track}/{item_id}.mp4", rid)
    except FileNotFoundError:
        rel = find_video(ctx, f"{item_id}.mp4", rid)
    part, _ = video_part(ctx, rel, f"{track}-{item_id}", rid)
    parts = [part]
    if row.get("image") is not None and not missing_value(row.get("image")):  # Adaptation: an extra exam image
        parts.append({"type": "image", "image": ctx.media.image(row["image"], rid, item=rid)})
    meta = {"track": track, "question_type": row.get("question_type", "")}
    options = option_list(row.get("options") or [], what=f"VideoMMMU {rid} options")
    if options:
        text = prompts.mc_text(str(row["question"]), [str(o) for o in options])
        meta["choices"] = [str(o) for o in options]
        return prompts.user_record(
            rid, "choice", [*parts, {"type": "text", "text": text}], prompts.strip_letter(row["answer"]), meta
        )
    parts.append({"type": "text", "text": prompts.short_text(str(row["question"]))})
    return prompts.user_record(rid, "vqa", parts, str(row["answer"]), meta)


VIDEOMMMU = Family(rows=_videommmu_rows, convert=_videommmu_convert)


# ------------------------------------------------------------------ MMVU
def _mmvu_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / f"{ctx.bench.split}.json"
    if path.is_file():
        yield from read_json(path)
        return
    yield from _hf(ctx)


def mmvu_video_path(url: str) -> str:
    """The repository path of an MMVU video URL (``…/resolve/main/videos/Art/0.mp4`` → ``videos/Art/0.mp4``)."""
    _, sep, tail = str(url).partition("/resolve/main/")
    return tail if sep else str(url)


def _mmvu_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"mmvu-{row['id']}"
    rel = mmvu_video_path(row["video"])
    part, _ = video_part(ctx, rel, rid, rid)
    meta = {
        "subject": (row.get("metadata") or {}).get("subject", ""),
        "question_type": row["question_type"],
        "question": str(row["question"]),  # the official judge is shown the question without our instruction
    }
    choices = {k: v for k, v in (row.get("choices") or {}).items() if not missing_value(v)}
    if row["question_type"] == "multiple-choice" and choices:
        options = [choices[k] for k in sorted(choices)]
        return _video_mc(rid, part, str(row["question"]), options, row["answer"], meta)
    text = prompts.short_text(str(row["question"]))
    return prompts.user_record(rid, "vqa", [part, {"type": "text", "text": text}], str(row["answer"]), meta)


MMVU = Family(rows=_mmvu_rows, convert=_mmvu_convert)


# ------------------------------------------------------------------ LVBench / MotionBench (video_info.meta.jsonl)
def _meta_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / "video_info.meta.jsonl"
    if not path.is_file():
        raise DataNotFoundError(f"{ctx.bench.title}: {path} not found (download it from the {ctx.bench.hf_id} dataset)")
    for video in read_jsonl(path):
        for qa in video.get("qa") or []:
            yield {"video": video, "qa": qa}


def _meta_convert(row: dict[str, Any], ctx: LoadContext, prefix: str) -> Record | list[Record]:
    video, qa = row["video"], row["qa"]
    rid = f"{prefix}-{qa['uid']}"
    if str(qa.get("answer", "")).strip().upper() in ("", "NA"):
        return []  # MotionBench's test answers are hidden ("NA"): nothing to score
    parsed = split_lettered_lines(str(qa["question"]))
    key = str(video["key"])
    rel = str(video["video_path"]) if video.get("video_path") else find_video(ctx, f"{key}.mp4", rid)
    part, _ = video_part(ctx, rel, key, rid)
    qtype = qa.get("question_type", video.get("question_type", ""))
    meta = {"question_type": qtype if isinstance(qtype, (str, list)) else str(qtype), "video": key}
    if parsed is None:  # options we can't split out: keep the question whole and score the letter as a letter
        text = prompts.short_text(str(qa["question"]), instruction=prompts.MC_INSTRUCTION)
        parts = [part, {"type": "text", "text": text}]
        return prompts.user_record(rid, "choice", parts, prompts.strip_letter(qa["answer"]), meta)
    stem, options = parsed
    return _video_mc(rid, part, stem, options, qa["answer"], meta)


LVBENCH = Family(rows=_meta_rows, convert=lambda row, ctx: _meta_convert(row, ctx, "lvbench"))
MOTIONBENCH = Family(rows=_meta_rows, convert=lambda row, ctx: _meta_convert(row, ctx, "motionbench"))
