"""Run benchmarks: load → generate (batched, per thinking budget) → score through `thinkvl.reward` → save → report.

Output directory::

    run.json                              the configuration of the run
    predictions/<benchmark>@<budget>.jsonl  one line per item: response, verdict, correct, score, meta
    results.json                          per benchmark and budget: the metric (with breakdowns); per group
    results.md                            markdown table by group
    plots/groups.png, plots/budget.png    per-group bars; accuracy against thinking budget (several budgets)

Predictions are appended and flushed (and fsynced) after every batch, and finished ids are skipped when the run
is started again, so a crash loses at most the batch in flight; a line cut short by a crash is dropped on resume.
The model is a callable ``generate(records, media_root, thinking_budget) -> responses`` supplied by the caller, or a
`StreamingModel` (a served model, `thinkvl.eval.endpoint`) whose results are saved one by one as they arrive. An
item a streaming model could not answer is saved as an ``error`` row with its reason: left out of the metric,
counted in the results (``extra.errors``), and tried again when the run is resumed.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from thinkvl.config import check_values, option
from thinkvl.data.loaders import atomic_write_text
from thinkvl.data.record import Record
from thinkvl.eval import metrics, report
from thinkvl.eval.judging import EvalJudge, JudgeConfig
from thinkvl.eval.loaders import LoadedBenchmark, load_benchmark
from thinkvl.eval.registry import Benchmark, BenchmarkError, resolve_tasks
from thinkvl.eval.tables import DataNotFoundError
from thinkvl.model.tokens import ANSWER_BUDGET, NEVER_GENERATED
from thinkvl.reward import DomainConfig, RewardConfig, RewardSystem, Verdict

if TYPE_CHECKING:
    from thinkvl.eval.render.scorer import RenderScorer

Generate = Callable[[list[Record], Path, "int | None"], list[str]]
EVAL_PLUGIN = "thinkvl.eval.verifiers"


class EvalError(RuntimeError):
    """The generate callable broke its contract, or the run can't go on; the message says how."""


@dataclass
class Generated:
    """One item's outcome from a streaming model: the response text, or the reason it could not be had."""

    text: str | None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # saved with the row (forced, attempts, finish reason…)


@runtime_checkable
class StreamingModel(Protocol):
    def stream(self, records: list[Record], root: Path, budget: int | None) -> Iterator[list[tuple[Record, Generated]]]:
        """Every record's outcome exactly once, in chunks, in the order they finish."""
        ...


@dataclass
class EndpointConfig:
    """A model served behind an OpenAI-compatible API (`thinkvl.eval.endpoint`): the ``endpoint:`` section of an
    eval YAML; flags ``--endpoint.FIELD``, or ``--endpoint URL`` and ``--FIELD`` for short (`EVAL_FLAG_ALIASES`)."""

    url: str = option("", "base URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1")
    served_model: str = option("", "the model name the server knows (the request's 'model')")
    api_key_env: str | None = option(None, "environment variable holding the API key (sent as a Bearer token)")
    concurrency: int = option(8, "requests in flight at once")
    request_timeout: float = option(600.0, "seconds one HTTP request may take in all before it is retried")
    max_attempts: int = option(5, "tries per request; 429, 5xx, timeouts and dropped connections are retried")
    temperature: float = option(0.0, "sampling temperature sent to the server (0: greedy, as the local path)")
    top_p: float = option(1.0, "top-p sent to the server")
    max_tokens: int | None = option(None, "token cap per response when the thinking budget is null (null: none)")
    max_reply_bytes: int = option(
        8_000_000, "bytes a reply may hold; a longer one is abandoned while it is read and the item fails"
    )
    force_marker: Literal["think_close", "end_of_solution"] = option(
        "think_close", "what closes a cut thought: '</think><answer>' or '<|end_of_solution|>'"
    )
    budget_via: Literal["continue", "completions", "refuse"] = option(
        "continue",
        "how a thinking budget is enforced over HTTP: continue (the same assistant message, continue_final_message: "
        "vLLM, SGLang), completions (/completions with the rendered prompt; text-only items), refuse (no such "
        "server: any budget but null is an error)",
    )
    video_via: Literal["auto", "video", "frames"] = option(
        "auto",
        "how a video goes to a served model: video (one video_url part with its frame rate, which vLLM's glm4v turns "
        "into frames with time indices), frames (loose images, no times), auto (video, frames where the server "
        "refuses it); each item's predictions say which was used",
    )
    request_extra: dict[str, Any] = option(
        {"skip_special_tokens": False, "bad_words": list(NEVER_GENERATED)},
        "fields added to every request body: vLLM/SGLang keep the box tokens with skip_special_tokens: false, and "
        "vLLM's bad_words bans the placeholders and prompt tags the local engine never generates (without it a served "
        "model may emit <|end_of_video|> where the local one can't); {} for servers that reject unknown fields",
    )

    def __post_init__(self) -> None:
        check_values(self)
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http(s) URL, got {self.url!r}")
        if not self.served_model:
            raise ValueError("served_model must name the model the server knows")
        if self.concurrency < 1 or self.max_attempts < 1 or self.max_reply_bytes < 1:
            raise ValueError("concurrency, max_attempts and max_reply_bytes must be >= 1")
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be > 0 seconds")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"temperature must be >= 0 and top_p in (0, 1], got {self.temperature}, {self.top_p}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1 (or null for no cap)")


@dataclass
class EvalConfig:
    """What `run_eval` runs; YAML maps onto it one to one (``thinkvl eval run --config eval.yaml``)."""

    tasks: list[str] = option(["synth"], "benchmarks, groups, 'all' or 'offline'")
    data_dir: str | None = option(None, "directory holding one folder per benchmark")
    thinking_budgets: list[int | None] = option([None], "thinking-token caps to evaluate at (null: no cap)")
    batch_size: int = option(8, "records per generate call (and per saved batch)")
    limit: int | None = option(None, "at most this many items per benchmark")
    lenient: bool = option(False, "lenient answer extraction, for models without box tokens")
    on_missing: Literal["error", "skip"] = option(
        "error", "an item whose image/video is missing: stop (error) or skip it"
    )
    download: bool = option(False, "fetch annotations from the Hugging Face Hub if absent")
    reward_config: str | None = option(None, "reward YAML (default: the packaged one)")
    scoring_workers: int = option(1, "processes scoring responses in parallel")
    device: str = option("auto", "where --model runs: auto (the GPU when there is one), cpu, cuda:N")
    loader_options: dict[str, dict[str, Any]] = option(
        {}, "per benchmark loader options, e.g. {videomme: {num_frames: 8}}"
    )
    answer_budget: int = option(ANSWER_BUDGET, "tokens allowed for the answer after a thought is cut at its budget")
    clip_model: str | None = option(
        None,
        "local directory of a transformers CLIP checkpoint for the coding benchmarks' visual similarity (Design2Code "
        "uses openai/clip-vit-base-patch32)",
    )
    render_timeout: float = option(30.0, "seconds a generated page may take to load in the headless browser")
    endpoint: EndpointConfig | None = option(None, "a served model to evaluate (null: --model or --responses)")
    judge: JudgeConfig | None = option(
        None, "a judge model for the benchmarks whose official scorer uses an LLM (thinkvl.eval.judging; null: rules)"
    )

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        check_values(self)
        resolve_tasks(self.tasks)  # unknown names fail now, with the list of known ones
        if not self.thinking_budgets:
            raise ValueError("thinking_budgets must list at least one budget (null for no cap)")
        for b in self.thinking_budgets:
            if b is not None and b < 1:  # as `thinkvl rl`: 0 would be sent as a 1-token cap, not "no thinking"
                raise ValueError(f"thinking_budgets: each is an integer >= 1 or null (no cap), got {b!r}")
        if len(set(self.thinking_budgets)) != len(self.thinking_budgets):
            raise ValueError(f"thinking budget listed twice: {self.thinking_budgets}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be >= 1 (or null for all items)")
        if self.scoring_workers < 1 or self.answer_budget < 1:
            raise ValueError("scoring_workers and answer_budget must be >= 1")
        if self.render_timeout <= 0:
            raise ValueError("render_timeout must be > 0 seconds")


def budget_key(budget: int | None) -> str:
    return "none" if budget is None else str(budget)


def predictions_path(out_dir: Path, bench: Benchmark, budget: int | None) -> Path:
    return out_dir / "predictions" / f"{bench.name}@{budget_key(budget)}.jsonl"


# ------------------------------------------------------------------ predictions file
def read_predictions(path: Path) -> dict[str, dict[str, Any]]:
    """Finished predictions by id. A last line cut short by a crash is dropped from the file."""
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    good: list[str] = []
    with path.open(encoding="utf-8") as f:
        lines = f.readlines()
    for n, line in enumerate(lines):
        try:
            row = json.loads(line)
            if not line.endswith("\n") or not isinstance(row, dict) or "id" not in row:
                raise ValueError("incomplete line")
        except ValueError:
            if n != len(lines) - 1:
                raise EvalError(
                    f"{path}:{n + 1}: corrupt prediction line (not the last one); fix or delete the file"
                ) from None
            atomic_write_text(path, "".join(good))  # the crashed batch's half-written line
            break
        good.append(line)
        rows[row["id"]] = row
    return rows


def _small(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 200
    if isinstance(value, (int, float, bool)) or value is None:
        return True
    if isinstance(value, list):
        return len(value) <= 20 and all(isinstance(v, (str, int, float, bool)) and _small(v) for v in value)
    return False


def _head(record: Record, bench: Benchmark, budget: int | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "benchmark": bench.name,
        "budget": budget,
        "domain": record.domain,
        "answer": record.answer if _small(record.answer) else str(record.answer)[:200],
    }


def prediction_row(
    record: Record,
    bench: Benchmark,
    budget: int | None,
    response: str,
    verdict: Verdict,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One saved line: what was asked, answered and decided, with the meta the metric needs."""
    row = {
        **_head(record, bench, budget),
        "response": response,
        "correct": bool(verdict.correct),
        "score": float(verdict.score),
        "reward": float(verdict.reward),
        "verdict": verdict.to_dict(),
        "meta": {k: v for k, v in record.meta.items() if k != "choices" and _small(v)},
    }
    if info:
        row["generation"] = info
    return row


def error_row(record: Record, bench: Benchmark, budget: int | None, reason: str, info: dict[str, Any]) -> dict:
    """An item that could not be answered: kept (so it's visible and retried on resume), never scored as wrong."""
    return {**_head(record, bench, budget), "error": reason, "generation": info}


# ------------------------------------------------------------------ scoring
def reward_config_for(bench: Benchmark, base: RewardConfig, *, lenient: bool) -> RewardConfig:
    """The base reward config with this benchmark's verifiers and options, and the eval plugin loaded."""
    config = copy.deepcopy(base)
    config.lenient = lenient
    if EVAL_PLUGIN not in config.plugins:
        config.plugins = [*config.plugins, EVAL_PLUGIN]
    for domain, verifier in bench.verifiers.items():
        old = config.domains.get(domain) or DomainConfig()
        config.domains[domain] = DomainConfig(
            verifier=verifier,
            weight=old.weight,
            reward_range=old.reward_range,
            penalties=old.penalties,
            options=dict(bench.verifier_options.get(domain, {})),
        )
    for domain, options in bench.verifier_options.items():
        if domain not in bench.verifiers:
            config.domains[domain].options = {**config.domains[domain].options, **options}
    return config


def _check_responses(responses: Any, batch: Sequence[Record], bench: Benchmark) -> list[str]:
    if not isinstance(responses, (list, tuple)) or len(responses) != len(batch):
        got = len(responses) if isinstance(responses, (list, tuple)) else type(responses).__name__
        raise EvalError(f"{bench.title}: generate returned {got} responses for {len(batch)} records")
    bad = [k for k, r in enumerate(responses) if not isinstance(r, str)]
    if bad:
        raise EvalError(f"{bench.title}: generate returned a {type(responses[bad[0]]).__name__} for {batch[bad[0]].id}")
    return list(responses)


def _append(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------ the run
def run_benchmark(
    loaded: LoadedBenchmark,
    generate: Generate | StreamingModel,
    out_dir: Path,
    budget: int | None,
    scorer: RewardSystem | RenderScorer,
    *,
    batch_size: int,
    workers: int = 1,
    progress: Progress | None = None,
    judge: EvalJudge | None = None,
) -> list[dict[str, Any]]:
    """Generate and score the unfinished items of one benchmark at one budget; return all its rows.

    Items saved earlier as errors are unfinished: they are tried again. With ``judge``, the benchmark's official
    judge protocol decides each answered item (`thinkvl.eval.judging`)."""
    bench = loaded.bench
    path = predictions_path(out_dir, bench, budget)
    done = read_predictions(path)
    if judge is not None:  # rows saved by an earlier run without the judge: judged now, not generated again
        stale = [(r, done[r.id]) for r in loaded.records if r.id in done and not {"error", "judge"} & set(done[r.id])]
        if stale:
            _append(path, rejudged := judge.apply(bench, stale))
            done.update((row["id"], row) for row in rejudged)
    todo = [r for r in loaded.records if r.id not in done or "error" in done[r.id]]
    task = (
        progress.add_task(
            f"{bench.title} @ {budget_key(budget)}",
            total=len(loaded.records),
            completed=len(loaded.records) - len(todo),
        )
        if progress
        else None
    )
    if isinstance(generate, StreamingModel) and todo:
        chunks: Iterable[list[tuple[Record, Generated]]] = generate.stream(todo, loaded.root, budget)
    else:
        chunks = _batched(generate, todo, loaded.root, budget, batch_size, bench)
    for chunk in chunks:
        answered = [(rec, g) for rec, g in chunk if g.text is not None]
        texts = [g.text or "" for _, g in answered]
        verdicts = scorer.score_batch(texts, [rec for rec, _ in answered], workers=workers) if answered else []
        scored = iter(zip(texts, verdicts))
        rows = []
        for rec, g in chunk:
            if g.text is None:
                rows.append(error_row(rec, bench, budget, g.error or "no response", g.info))
            else:
                text, verdict = next(scored)
                row = prediction_row(rec, bench, budget, text, verdict, g.info)
                if not isinstance(scorer, RewardSystem):
                    row.update(scorer.details(rec.id))  # what the renderer measured (parts, errors)
                rows.append(row)
        if judge is not None:
            rows = judge.apply(bench, [(rec, row) for (rec, _), row in zip(chunk, rows)])
        _append(path, rows)
        done.update((row["id"], row) for row in rows)
        if progress is not None and task is not None:
            progress.advance(task, sum("error" not in row for row in rows))
    return [done[r.id] for r in loaded.records]


def _batched(
    generate: Generate, todo: list[Record], root: Path, budget: int | None, batch_size: int, bench: Benchmark
) -> Iterator[list[tuple[Record, Generated]]]:
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        responses = _check_responses(generate(batch, root, budget), batch, bench)
        yield [(rec, Generated(text)) for rec, text in zip(batch, responses)]


def errors_of(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if "error" in row]


def _metric(bench: Benchmark, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's metric over the answered rows; failed items are counted beside it, never scored wrong."""
    failed = errors_of(rows)
    result = metrics.compute(bench, [row for row in rows if "error" not in row])
    if failed:
        result.extra["errors"] = len(failed)
        result.extra["first_error"] = f"{failed[0]['id']}: {failed[0]['error']}"
    return result.to_dict()


def _entry(bench: Benchmark, skipped: list[str], judged: bool = False) -> dict[str, Any]:
    return {
        "title": bench.title,
        "group": bench.group,
        "metric": bench.metric,
        "scoring": bench.scoring_with(judged),
        "skipped": skipped,
        "budgets": {},
    }


def _scorer(bench: Benchmark, base: RewardConfig, config: EvalConfig, root: Path) -> RewardSystem | RenderScorer:
    """The reward system with the benchmark's verifiers, or for coding benchmarks the renderer."""
    if bench.scoring == "render":
        from thinkvl.eval.render.browser import BrowserUnavailable
        from thinkvl.eval.render.scorer import RenderScorer  # numpy, scipy, a browser: only when asked for

        assert config.clip_model is not None
        try:
            return RenderScorer(
                bench.loader,  # type: ignore[arg-type]
                root,
                clip_model=config.clip_model,
                lenient=config.lenient,
                timeout=config.render_timeout,
            )
        except BrowserUnavailable as err:
            raise EvalError(f"{bench.title} is scored in a browser: {err} ({bench.needs})") from None
    return RewardSystem(reward_config_for(bench, base, lenient=config.lenient))


def run_eval(
    config: EvalConfig,
    generate: Generate | StreamingModel,
    out_dir: str | Path,
    *,
    reward: RewardConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``generate`` on ``config.tasks`` at each thinking budget; write predictions, results, table and
    plots, and the config whole (a served model's ``endpoint`` section included) as ``run.json``.

    Returns the results dict also written to ``out_dir/results.json``. Benchmarks that can't be scored offline
    are refused up front, before any generation. ``reward`` replaces the config's reward YAML. With
    ``config.judge``, the benchmarks whose official scorer uses an LLM are judged by it (`thinkvl.eval.judging`).
    """
    benches = resolve_tasks(config.tasks)
    blocked = [b for b in benches if not b.runnable]
    if blocked:
        raise BenchmarkError("; ".join(f"{b.title} can't be scored offline: it needs {b.needs}" for b in blocked))
    rendered = [b.title for b in benches if b.scoring == "render"]
    if rendered and not config.clip_model:
        raise BenchmarkError(
            f"{', '.join(rendered)}: give --clip-model DIR (clip_model), a local transformers CLIP checkpoint "
            "(Design2Code uses openai/clip-vit-base-patch32); nothing is downloaded"
        )
    base = reward if reward is not None else RewardConfig.from_yaml(config.reward_config)
    judged = EvalJudge(config.judge) if config.judge is not None and any(b.judge for b in benches) else None
    if judged is not None:
        judged.preflight()  # an unreachable judge fails now, before any generation
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "run.json", json.dumps({**asdict(config), "started": time.time()}, indent=2) + "\n")

    results: dict[str, Any] = {"run": {**asdict(config), "out_dir": str(out)}, "benchmarks": {}}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress) as bar:
        for bench in benches:
            try:
                loaded = load_benchmark(
                    bench,
                    config.data_dir,
                    out / "media",
                    limit=config.limit,
                    on_missing=config.on_missing,
                    download=config.download,
                    options=config.loader_options.get(bench.name),
                )
            except DataNotFoundError as err:
                if config.on_missing == "error":
                    raise
                # With on_missing=skip a benchmark whose data isn't there is reported, not fatal.
                results["benchmarks"][bench.name] = {**_entry(bench, [], judged is not None), "error": str(err)}
                continue
            if not loaded.records:
                skipped = f" ({len(loaded.skipped)} skipped: {loaded.skipped[0]})" if loaded.skipped else ""
                raise EvalError(f"{bench.title}: no items loaded{skipped}")
            judge_here = judged if bench.judge else None
            entry = _entry(bench, loaded.skipped, judge_here is not None)
            with _scorer(bench, base, config, loaded.root) as scorer:
                for budget in config.thinking_budgets:
                    rows = run_benchmark(
                        loaded,
                        generate,
                        out,
                        budget,
                        scorer,
                        batch_size=config.batch_size,
                        workers=config.scoring_workers,
                        progress=bar,
                        judge=judge_here,
                    )
                    entry["budgets"][budget_key(budget)] = _metric(bench, rows)
            results["benchmarks"][bench.name] = entry
    results["groups"] = report.group_scores(results)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    report.write_report(results, out)
    return results
