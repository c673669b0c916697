"""GUI agents. OSWorld, AndroidWorld and WebVoyager are interactive: an episode runs in a live environment whose
checker decides success, so their tasks become records (instruction prompt; the answer names the checker) that
the runner refuses to score. WebQuest's single- and multi-screen QA are question answering over screenshots and
are scored offline (relaxed accuracy).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import Family, LoadContext
from thinkvl.eval.tables import DataNotFoundError, read_json, read_jsonl

AGENT_INSTRUCTION = "You control the {where}. Complete the task step by step, one GUI action per turn.\nTask: {task}"


def _episode_record(rid: str, task: str, where: str, checker: Any, meta: dict[str, Any]) -> Record:
    text = AGENT_INSTRUCTION.format(where=where, task=task.strip())
    answer = {"action": "episode", "checker": checker}
    return prompts.user_record(rid, "gui", [{"type": "text", "text": text}], answer, meta)


# ------------------------------------------------------------------ OSWorld
def _osworld_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    base = ctx.source / "evaluation_examples" / "examples"
    files = sorted(base.glob("*/*.json"))
    if not files:
        raise DataNotFoundError(f"OSWorld: no task files under {base} (clone xlang-ai/OSWorld into {ctx.source})")
    for path in files:
        yield {**read_json(path), "_app": path.parent.name}


def _osworld_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    evaluator = row.get("evaluator") or {}
    meta = {"app": row["_app"], "snapshot": row.get("snapshot", ""), "config": row.get("config", [])}
    return _episode_record(f"osworld-{row['id']}", str(row["instruction"]), "Ubuntu desktop", evaluator, meta)


OSWORLD = Family(rows=_osworld_rows, convert=_osworld_convert)


# ------------------------------------------------------------------ AndroidWorld
def _androidworld_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    meta = {"task": row["name"], "params": row.get("params", {})}
    return _episode_record(
        f"androidworld-{row['name']}-{row.get('seed', 0)}", str(row["goal"]), "Android phone", row["name"], meta
    )


ANDROIDWORLD = Family(rows=lambda ctx: read_jsonl(ctx.source / "tasks.jsonl"), convert=_androidworld_convert)


# ------------------------------------------------------------------ WebVoyager
def _webvoyager_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    task = f"{row['ques']}\nStart at {row['web']}."
    meta = {"website": row.get("web_name", ""), "start_url": row["web"]}
    return _episode_record(f"webvoyager-{row['id']}", task, "web browser", "gpt-4v-judge", meta)


WEBVOYAGER = Family(
    rows=lambda ctx: read_jsonl(ctx.source / "WebVoyager_data.jsonl"), convert=_webvoyager_convert, media_root="source"
)


# ------------------------------------------------------------------ WebQuest
def _webquest_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"webquest-{ctx.option('file', 'qa').split('.')[0]}-{row['id']}"
    shots = row.get("screenshots") or []
    if isinstance(shots, str):
        shots = [shots]
    images = [ctx.media.reference(str(s), item=rid) for s in shots]
    if not images:
        raise ctx.media.missing("has no screenshots", rid)
    text = prompts.short_text(str(row["question"]))
    return prompts.user_record(rid, "vqa", prompts.content(images, text), row["answer"], {"screens": len(images)})


WEBQUEST = Family(
    rows=lambda ctx: read_jsonl(ctx.source / ctx.option("file", "single_screen.jsonl")),
    convert=_webquest_convert,
    media_root="source",
)
