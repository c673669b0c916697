"""`thinkvl demo`: the whole recipe on a CPU in minutes — synth → pre-train → long-context pre-train → SFT → grade
→ RLCS → eval → report.

A tiny glm4v (the real architecture, ~5M parameters) learns the built-in multi-domain visual tasks. Every stage
is the same code a real run uses; only the configs (in thinkvl/configs/demo/) are small. Re-running resumes: each
stage skips itself when its output exists.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinkvl.config import load_yaml

if TYPE_CHECKING:
    from thinkvl.model.generate import SamplingParams

DEMO_DOMAINS = ("counting", "chart", "ocr", "grounding", "math", "choice", "video")
# Seeds of the held-out set and the RL prompt pool, relative to the training seed. Disjointness does not rest on
# them: both sets are written excluding training (and each other) by content.
HELDOUT_SEED_OFFSET = 90_210
RL_SEED_OFFSET = 1
# Per held-out item, the share of sampled answers that were right (next to a sampled evaluation's summary.json).
SAMPLED_ITEMS = "items.json"


def demo_config_path(name: str) -> Path:
    return Path(str(resources.files("thinkvl") / "configs" / "demo" / name))


@dataclass
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "where every stage writes"})
    domains: tuple[str, ...] = field(default=DEMO_DOMAINS, metadata={"help": "synthetic task families"})
    levels: tuple[int, ...] | dict[str, tuple[int, ...]] = field(
        default=(0,), metadata={"help": "difficulty levels to train and test on (one list, or per domain)"}
    )
    n_train: int = field(default=2000, metadata={"help": "training records per domain"})
    n_eval: int = field(default=80, metadata={"help": "held-out records per domain"})
    n_rl: int = field(default=120, metadata={"help": "RL prompts per domain (graded offline, then RLCS)"})
    rl_levels: tuple[int, ...] | None = field(
        default=None,
        metadata={
            "help": "difficulty levels of the RL pool (default: the trained levels, which already hold too-easy, "
            "learnable and too-hard prompts for this SFT model, by domain; levels it never saw in SFT cost the "
            "short demo its gain: docs/results.md)"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of the training data and the model"})
    pretrain_steps: int | None = field(default=None, metadata={"help": "override the demo pre-training config"})
    answer_steps: int | None = field(default=None, metadata={"help": "override the answer-first SFT config"})
    sft_steps: int | None = field(default=None, metadata={"help": "override the demo SFT config"})
    rl_iterations: int | None = field(default=None, metadata={"help": "override the demo RL config"})
    grade_k: int = field(default=2, metadata={"help": "pass@k of the offline grading (with the levels as a prior)"})
    sample_k: int = field(
        default=2, metadata={"help": "held-out answers per item sampled at the RL temperature (0: skip)"}
    )
    rl: bool = field(default=True, metadata={"help": "run grade + RLCS after SFT"})
    device: str = field(
        default="auto",
        metadata={"help": "auto: the GPU when there is one (LOCAL_RANK's), else the CPU; or cpu, cuda:N"},
    )


def _stage(name: str, fn, *args: Any, **kwargs: Any) -> Any:
    start = time.perf_counter()
    print(f"── {name}", flush=True)
    result = fn(*args, **kwargs)
    print(f"   {name} done in {time.perf_counter() - start:.0f} s", flush=True)
    return result


def _stages_side_by_side(
    name: str, fn: Callable[[], Any], other_name: str, other: Callable[[], Any], *, overlap: bool
) -> tuple[Any, Any]:
    """Two independent stages: with ``overlap``, at once in two processes (``other`` with its progress bars off,
    so the two don't interleave on the terminal); else one after the other, here."""
    if not overlap:
        return _stage(name, fn), _stage(other_name, other)
    from thinkvl.overlap import run_side_by_side

    start = time.perf_counter()
    print(f"── {name}\n── {other_name}, side by side with it", flush=True)
    result, other_result, seconds, other_seconds = run_side_by_side(fn, other)
    print(f"   {name} done in {seconds:.0f} s and {other_name} in {other_seconds:.0f} s, side by side: "
          f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    return result, other_result


def one_then_other(first: Callable[[], Any], second: Callable[[], Any] | None) -> tuple[Any, Any]:
    """``first()``, then ``second()`` when given (else None): two stages as one job for a second process."""
    return first(), second() if second is not None else None


def _is_box(answer: Any) -> bool:
    return isinstance(answer, list) and len(answer) == 4 and all(isinstance(v, (int, float)) for v in answer)


def majority_baseline(records: list[Any], iou_threshold: float = 0.5) -> dict[str, float]:
    """Per domain: the accuracy of always giving the one best constant answer, chosen with hindsight.

    Exact answers: the most common held-out answer. Boxes (scored correct at IoU >= ``iou_threshold``, as the
    grounding verifier does): the held-out box that overlaps that much with the most held-out boxes."""
    from thinkvl.reward.verifiers.grounding import iou

    by_domain: dict[str, list[Any]] = {}
    for r in records:
        by_domain.setdefault(r.domain, []).append(r.answer)
    out = {}
    for domain, answers in by_domain.items():
        if all(_is_box(a) for a in answers):
            best = max(sum(iou(c, a) >= iou_threshold for a in answers) for c in answers)
        else:
            best = Counter(json.dumps(a) for a in answers).most_common(1)[0][1]
        out[domain] = best / len(answers)
    return out


def evaluate(
    model_dir: Path, data: Path, out: Path, thinking_budget: int, answer_budget: int, device: str = "auto"
) -> dict[str, Any]:
    """Greedy answers on the held-out set, scored by the eval runner: per-domain accuracy and format rate. The
    budgets are the RL config's, so greedy and sampled accuracy and the RL rollouts cut thoughts alike.

    Predictions go to ``out/predictions/synth@<budget>.jsonl`` (resumable); the table to ``out/summary.json``.
    """
    from thinkvl.data.loaders import load_records
    from thinkvl.eval.loaders import LoadedBenchmark
    from thinkvl.eval.registry import BENCHMARKS
    from thinkvl.eval.runner import run_benchmark
    from thinkvl.model import load_bundle
    from thinkvl.model.generate import TransformersEngine, make_generate
    from thinkvl.reward import RewardSystem

    dataset = load_records(data)
    bundle = load_bundle(model_dir, device=device)
    bundle.model.eval()
    engine = TransformersEngine(bundle, batch_size=64)
    generate = make_generate(engine, answer_budget=answer_budget)
    out.mkdir(parents=True, exist_ok=True)
    loaded = LoadedBenchmark(bench=BENCHMARKS["synth"], records=dataset.records, root=dataset.root)
    with RewardSystem() as scorer:
        rows = run_benchmark(loaded, generate, out, thinking_budget, scorer, batch_size=64)
    table: dict[str, Any] = {}
    for domain in sorted({r["domain"] for r in rows}):
        mine = [r for r in rows if r["domain"] == domain]
        table[domain] = {
            "accuracy": sum(r["correct"] for r in mine) / len(mine),
            "format": sum(r["verdict"]["format_ok"] for r in mine) / len(mine),
            "n": len(mine),
        }
    table["all"] = {
        "accuracy": sum(r["correct"] for r in rows) / len(rows),
        "format": sum(r["verdict"]["format_ok"] for r in rows) / len(rows),
        "n": len(rows),
    }
    (out / "summary.json").write_text(json.dumps(table, indent=2) + "\n")
    return table


def sampled_table(records: list[Any], verdicts: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    """Per domain and ``"all"``: the mean over items of each item's share of correct (and well-formatted)
    answers, and the number of items."""
    groups: dict[str, list[list[Any]]] = {}
    for record in records:
        groups.setdefault(record.domain, []).append(verdicts[record.id])
    groups = dict(sorted(groups.items())) | {"all": [verdicts[r.id] for r in records]}
    return {
        domain: {
            "accuracy": sum(sum(v.correct for v in vs) / len(vs) for vs in items) / len(items),
            "format": sum(sum(v.format_ok for v in vs) / len(vs) for vs in items) / len(items),
            "n": len(items),
        }
        for domain, items in groups.items()
    }


def evaluate_sampled(
    model_dir: Path,
    data: Path,
    out: Path,
    *,
    params: SamplingParams,
    seed: int = 0,
    device: str = "auto",
    show_progress: bool = True,
) -> dict[str, Any]:
    """Held-out accuracy under RL's own sampling (``params``, from `sampling_params`): the mean over ``params.n``
    answers per item.

    Greedy accuracy cannot move on a domain already at 100%, nor show a shift of probability towards right answers
    that is not yet the argmax; this measures both. The table goes to ``out/summary.json`` (an existing one is
    reused)."""

    from thinkvl.data.loaders import atomic_write_text, load_records
    from thinkvl.model import load_bundle
    from thinkvl.reward import RewardSystem
    from thinkvl.rl.run import sample_verdicts

    summary = out / "summary.json"
    if summary.is_file() and (out / SAMPLED_ITEMS).is_file():
        return json.loads(summary.read_text())
    dataset = load_records(data)
    with RewardSystem() as scorer:
        verdicts = sample_verdicts(
            load_bundle(model_dir, device=device),
            dataset.records,
            dataset.root,
            scorer,
            params,
            batch_size=64,
            show_progress=show_progress,
            desc="sampled eval",
            seed=seed,
        )
    table = sampled_table(dataset.records, verdicts)
    out.mkdir(parents=True, exist_ok=True)
    shares = {rid: sum(v.correct for v in vs) / len(vs) for rid, vs in verdicts.items()}
    atomic_write_text(out / SAMPLED_ITEMS, json.dumps(shares) + "\n")  # per item, for paired comparisons
    atomic_write_text(summary, json.dumps(table, indent=2) + "\n")
    return table


def paired_comparison(out: Path, greedy: tuple[str, str], sampled: tuple[str, str] | None) -> dict[str, Any]:
    """RLCS against SFT on the same held-out items: McNemar's exact test on greedy right/wrong (overall and per
    domain), a paired bootstrap on the per-item share of sampled answers that are right."""
    from thinkvl.eval.stats import mcnemar, paired_bootstrap
    from thinkvl.report import predictions_file

    rows = []
    for sub in greedy:
        path = predictions_file(out / sub)
        if path is None:
            return {}
        rows.append({r["id"]: r for r in map(json.loads, path.read_text().splitlines())})
    ids = [i for i in rows[0] if i in rows[1]]
    domains = sorted({rows[0][i]["domain"] for i in ids})
    result: dict[str, Any] = {"greedy": {}}
    for domain in [*domains, "all"]:
        mine = [i for i in ids if domain == "all" or rows[0][i]["domain"] == domain]
        result["greedy"][domain] = mcnemar(
            [bool(rows[0][i]["correct"]) for i in mine], [bool(rows[1][i]["correct"]) for i in mine]
        ).to_dict()
    if sampled is not None:
        a, b = (json.loads((out / sub / SAMPLED_ITEMS).read_text()) for sub in sampled)
        both = [i for i in ids if i in a and i in b]
        result["sampled"] = {"all": paired_bootstrap([a[i] for i in both], [b[i] for i in both]).to_dict()}
    return result


def print_table(columns: dict[str, dict[str, Any]], baseline: dict[str, float], format_of: str | None = None) -> str:
    """A markdown table: per domain, accuracy of each evaluated model, the majority baseline and the format rate of
    ``format_of`` (default: the last column)."""
    names = list(columns)
    format_of = format_of or names[-1]
    header = "| domain | " + " | ".join(names) + f" | majority baseline | format ({format_of}) |"
    lines = [header, "|" + "---|" * (len(names) + 3)]
    last = columns[format_of]
    for domain in [d for d in last if d != "all"] + ["all"]:
        accs = " | ".join(f"{columns[n][domain]['accuracy']:.0%}" for n in names)
        base = baseline.get(domain)
        base_s = f"{base:.0%}" if base is not None else f"{sum(baseline.values()) / len(baseline):.0%} (mean)"
        lines.append(f"| {domain} | {accs} | {base_s} | {last[domain]['format']:.0%} |")
    text = "\n".join(lines)
    print(text)
    return text


def demo_splits(cfg: DemoConfig) -> list[dict[str, Any]]:
    """The demo's datasets in the order they are written: name, directory, records per domain, seed, and the
    datasets (by name) each must be content-disjoint from."""
    data = Path(cfg.out) / "data"
    splits = [
        {"name": "train", "dir": data / "train", "n": cfg.n_train, "seed": cfg.seed, "exclude": []},
        {
            "name": "heldout",
            "dir": data / "heldout",
            "n": cfg.n_eval,
            "seed": cfg.seed + HELDOUT_SEED_OFFSET,
            "exclude": ["train"],
        },
    ]
    if cfg.rl:
        splits.append(
            {
                "name": "rl",
                "dir": data / "rl",
                "n": cfg.n_rl,
                "levels": cfg.rl_levels or cfg.levels,
                "seed": cfg.seed + RL_SEED_OFFSET,
                "exclude": ["train", "heldout"],
            }
        )
    return splits


def write_splits(cfg: DemoConfig) -> dict[str, Any]:
    """Write the demo's datasets (each skipped when it exists), held-out and RL content-disjoint from training and
    from each other; then log, and return, per split and domain: items, distinct items, items identical to a
    training item (0 by construction: checked, not assumed) and the share of answers that also occur in training."""
    from thinkvl.data.loaders import RECORDS_FILE
    from thinkvl.data.synth import write_dataset
    from thinkvl.data.synth.splits import format_split_stats, split_stats

    splits = demo_splits(cfg)
    dirs = {s["name"]: s["dir"] for s in splits}
    for s in splits:
        if not (s["dir"] / RECORDS_FILE).is_file():
            exclude = [dirs[e] for e in s["exclude"]]
            _stage(
                f"synthesise {s['name']} data", write_dataset, s["dir"], cfg.domains, s["n"], s["seed"],
                s.get("levels", cfg.levels),
                exclude=exclude,
            )  # fmt: skip
    stats: dict[str, Any] = {}
    for s in splits[1:]:
        stats[s["name"]] = split_stats(s["dir"], dirs["train"])
        print(format_split_stats(s["name"], stats[s["name"]]), flush=True)
        same = stats[s["name"]]["all"]["identical_to_reference"]
        dups = stats[s["name"]]["all"]["items"] - stats[s["name"]]["all"]["distinct"]
        print(f"   {s['name']}: {same} items identical to a training item, {dups} repeated items", flush=True)
    if cfg.rl:
        stats["rl_vs_heldout"] = split_stats(dirs["rl"], dirs["heldout"])["all"]["identical_to_reference"]
        print(f"   rl: {stats['rl_vs_heldout']} items identical to a held-out item", flush=True)
    return stats


def write_long_context_data(out: Path, model_dir: Path, pack_len: int, seed: int = 0) -> dict[str, Any]:
    """The long-context stage's data in ``out``: a small web corpus in the OBELICS layout (junk planted in) through
    the interleaved builder, and a PDF cut into long interleaved samples of at most ``pack_len`` tokens. Returns
    what was kept and dropped (also in ``out/data_report.json``); an existing one is reused."""
    from transformers import AutoProcessor

    from thinkvl.data.loaders import atomic_write_text, load_records, write_jsonl
    from thinkvl.data.pipeline.documents import TokenCounter, long_document_records, render_pdf
    from thinkvl.data.pipeline.interleaved import InterleavedConfig, build_interleaved
    from thinkvl.data.synth.documents import paragraph, write_text_pdf, write_web_documents

    report_file = out / "data_report.json"
    if report_file.is_file():
        return json.loads(report_file.read_text())
    source = out.parent / "web"
    web = write_web_documents(source / "pages.parquet", n=12, seed=seed)
    interleaved = build_interleaved(InterleavedConfig(input=str(web), output=str(out), relevance=None))
    lines = [[f"Page {i + 1}."] + [paragraph(seed + 100 * i + j)[:64] for j in range(6)] for i in range(6)]
    pages = render_pdf(write_text_pdf(source / "report.pdf", lines), out)
    counter = TokenCounter(AutoProcessor.from_pretrained(model_dir))
    long_docs = long_document_records(pages, "report", out, counter, pack_len)
    write_jsonl(load_records(out).records + long_docs, out / "records.jsonl")
    summary = {
        "interleaved": interleaved.to_json(),
        "long_documents": {
            "pages": len(pages),
            "samples": len(long_docs),
            "pack_len": pack_len,
            "tokens": [r.meta["tokens"] for r in long_docs],
        },
    }
    atomic_write_text(report_file, json.dumps(summary, indent=2) + "\n")
    return summary


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    from thinkvl.data.loaders import load_records
    from thinkvl.train.config import StageConfig
    from thinkvl.train.trainer import run_stage

    out = Path(cfg.out)
    train_dir, eval_dir, rl_dir = out / "data" / "train", out / "data" / "heldout", out / "data" / "rl"
    t0 = time.perf_counter()
    splits = write_splits(cfg)

    def stage_config(name: str, data: Path = train_dir, **over: Any) -> StageConfig:
        return load_yaml(StageConfig, demo_config_path(name), data=str(data), seed=cfg.seed, device=cfg.device, **over)

    pretrain = stage_config("pretrain.yaml", out=str(out / "pretrain"), steps=cfg.pretrain_steps)
    if not (out / "pretrain" / "model").is_dir():
        _stage("pre-train", run_stage, pretrain)
    long_dir = out / "data" / "long_context"
    long_cfg = stage_config(
        "long_context.yaml", long_dir, out=str(out / "long_context"), model=str(out / "pretrain" / "model")
    )
    data_report = _stage(
        "interleaved and long-document data", write_long_context_data, long_dir, out / "pretrain" / "model",
        long_cfg.pack_len, cfg.seed,
    )  # fmt: skip
    chain = [
        ("long-context pre-train (interleaved + long document)", "long_context", long_cfg),
        # A tiny ViT from scratch learns what it sees far faster from short answers than from long traces, so
        # SFT runs answers-first (empty thinking), then on the full thinking format.
        (
            "SFT (answers first)",
            "sft_answer",
            stage_config(
                "sft_answer.yaml",
                out=str(out / "sft_answer"),
                model=str(out / "long_context" / "model"),
                steps=cfg.answer_steps,
            ),
        ),
        (
            "SFT (thinking format)",
            "sft",
            stage_config(
                "sft.yaml", out=str(out / "sft"), model=str(out / "sft_answer" / "model"), steps=cfg.sft_steps
            ),
        ),
    ]
    for title, name, stage_cfg in chain:
        if not (out / name / "model").is_dir():
            _stage(title, run_stage, stage_cfg)
    from thinkvl.model.device import resolve_device
    from thinkvl.rl.config import RLConfig, sampling_params

    grades = out / "rl" / "grades.jsonl"
    rl = load_yaml(
        RLConfig,
        demo_config_path("rl.yaml"),
        model=str(out / "sft" / "model"),
        data=str(rl_dir),
        out=str(out / "rl"),
        grades=str(grades),
        iterations=cfg.rl_iterations,
        seed=cfg.seed,
        device=cfg.device,
    )
    budgets = (rl.thinking_budget, rl.answer_budget, cfg.device)
    with_sampled = cfg.rl and cfg.sample_k > 0
    sampling = (
        {"params": sampling_params(rl, n=cfg.sample_k), "seed": cfg.seed, "device": cfg.device} if with_sampled else {}
    )
    sampled_title = f"(sampled: {cfg.sample_k} answers per item, T {rl.temperature})"
    # On a CPU, two generation stages run side by side (thinkvl.overlap: the second core barely speeds one up).
    overlap = resolve_device(cfg.device).type == "cpu"

    def greedy_eval(model: str, sub: str) -> Callable[[], Any]:
        return partial(evaluate, out / model / "model", eval_dir, out / "eval" / sub, *budgets)

    def sampled_eval(model: str, sub: str, show_progress: bool = True) -> Callable[[], Any] | None:
        if not with_sampled:
            return None
        where = out / "eval" / f"{sub}_sampled"
        return partial(
            evaluate_sampled, out / model / "model", eval_dir, where, show_progress=show_progress, **sampling
        )

    results: dict[str, Any] = {}
    sft_evals = partial(one_then_other, greedy_eval("sft", "sft"), sampled_eval("sft", "sft", show_progress=False))
    sft_title = "evaluate SFT" + (f" (greedy, then {sampled_title[1:]}" if with_sampled else "")
    if cfg.rl and not grades.is_file():
        from thinkvl.rl.run import grade

        grading = partial(grade, replace(rl, grade_k=cfg.grade_k))
        _, sft = _stages_side_by_side("grade (offline pass@k)", grading, sft_title, sft_evals, overlap=overlap)
    else:
        sft = _stage(sft_title, sft_evals)
    results["sft"] = sft[0]
    if cfg.rl:
        from thinkvl.rl.run import run_rl

        if not (out / "rl" / "model").is_dir():
            _stage("RLCS", run_rl, rl)
        rlcs_sampled = sampled_eval("rl", "rl")
        if rlcs_sampled is None:
            results["rlcs"] = _stage("evaluate RLCS", greedy_eval("rl", "rl"))
        else:
            title = f"evaluate RLCS {sampled_title}"
            rlcs = _stages_side_by_side(title, rlcs_sampled, "evaluate RLCS", greedy_eval("rl", "rl"), overlap=overlap)
            results["rlcs"] = rlcs[1]
            results["sft_sampled"], results["rlcs_sampled"] = sft[1], rlcs[0]
    baseline = majority_baseline(load_records(eval_dir).records)
    table = print_table(results, baseline, format_of="rlcs" if "rlcs" in results else "sft")
    paired: dict[str, Any] = {}
    if "rlcs" in results:
        sampled = ("eval/sft_sampled", "eval/rl_sampled") if cfg.sample_k else None
        paired = paired_comparison(out, ("eval/sft", "eval/rl"), sampled)
        for kind, by_domain in paired.items():
            p = by_domain["all"]
            print(f"RLCS vs SFT, {kind}: {p['mean_a']:.1%} → {p['mean_b']:.1%} ({p['diff']:+.1%} ± {p['se']:.1%}, "
                  f"{p['test']} p = {p['p_value']:.2g})")  # fmt: skip
    summary = {
        "splits": splits,
        "pretrain_data": data_report,
        "results": results,
        "paired": paired,
        "majority_baseline": baseline,
        "table": table,
        "minutes": (time.perf_counter() - t0) / 60,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    from thinkvl.report import write_report

    print(f"report: {write_report(out)}")
    print(f"demo finished in {summary['minutes']:.1f} min → {out}")
    return summary


def _run(args: argparse.Namespace) -> int:
    from thinkvl.config import config_from_args

    run_demo(config_from_args(DemoConfig, args, args.config))
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    from thinkvl.config import add_config_flags

    p = sub.add_parser(
        "demo",
        help="the whole recipe on a tiny model and built-in data, on a CPU in minutes",
        description="synth → pre-train → long-context → SFT → grade → RLCS → eval → report on a tiny glm4v; "
        "re-running resumes.",
    )
    p.add_argument("--config", help="YAML with fields of DemoConfig; the flags below override it")
    add_config_flags(p, DemoConfig)
    p.set_defaults(func=_run)
