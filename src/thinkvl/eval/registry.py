"""The benchmark table: the GLM-4.1V-Thinking report's 28 benchmarks in 8 groups, plus the built-in synthetic suite.

One `Benchmark` says where a benchmark's data lives (a Hugging Face dataset id and split, and the local directory
``--data-dir/<local_dir>`` it is read from), which loader turns its items into records, which reward domains and
verifiers score them, which metric aggregates the verdicts, and whether it can be scored offline by rule at all.
VideoMME appears twice (without and with subtitles), as the report counts it: 27 names, 28 benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Group = Literal[
    "General VQA", "STEM", "OCR & Chart", "Long document", "Grounding", "GUI agents", "Coding", "Video", "Synthetic"
]
GROUPS: tuple[str, ...] = (
    "General VQA",
    "STEM",
    "OCR & Chart",
    "Long document",
    "Grounding",
    "GUI agents",
    "Coding",
    "Video",
    "Synthetic",
)
# rule: scored by rule as the benchmark's authors score it; approx: the official scorer uses an LLM judge or
# extractor, we score the boxed answer by rule unless a judge model is given (a run then reports "judge": the
# official protocol, thinkvl.eval.judge_protocols); render: the answer is code, rendered in a headless browser and
# scored with the benchmark's visual metrics (thinkvl.eval.render); unavailable: needs a live environment.
Scoring = Literal["rule", "approx", "render", "unavailable"]
RENDER_NEEDS = (
    "Chromium (apt-get install chromium), the Playwright client (pip install playwright), and a local CLIP "
    "checkpoint (clip_model; Design2Code uses openai/clip-vit-base-patch32)"
)


class BenchmarkError(ValueError):
    """An unknown benchmark or group, or a request the harness can't carry out (with what it would need)."""


@dataclass(frozen=True)
class Benchmark:
    name: str  # key used on the command line and in file names
    title: str  # as the report's table names it
    group: str  # one of GROUPS
    loader: str  # key of thinkvl.eval.loaders.LOADERS
    metric: str  # key of thinkvl.eval.metrics.METRICS
    hf_id: str | None  # Hugging Face dataset id (None: not on the Hub)
    split: str  # the split the report evaluates
    local_dir: str  # read from <data-dir>/<local_dir>
    hf_configs: tuple[str, ...] = ()  # dataset configs to load and concatenate (empty: the default config)
    files: str = ""  # the native files the loader looks for under local_dir, for error messages and docs
    domains: tuple[str, ...] = ("choice",)  # record domains the loader emits
    verifiers: dict[str, str] = field(default_factory=dict)  # record domain -> verifier name, when not the default
    verifier_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # record domain -> verifier options
    breakdown: tuple[str, ...] = ()  # record meta keys the metric is also reported by
    scoring: Scoring = "rule"
    needs: str = ""  # what full or official scoring needs beyond this harness
    media: str = ""  # where the images / videos come from (they are not in the annotation files)
    options: dict[str, Any] = field(default_factory=dict)  # loader options (language, subtitles, frames, ...)
    in_report: bool = True  # one of the report's 28 (False: an extra, e.g. ChartQA or the synthetic suite)
    judge: str = ""  # the official LLM-judge protocol (thinkvl.eval.judge_protocols) used with --judge-endpoint

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise BenchmarkError(f"benchmark {self.name}: unknown group {self.group!r}")
        if self.scoring in ("unavailable", "render") and not self.needs:
            raise BenchmarkError(f"benchmark {self.name}: say what an unscorable or rendered benchmark needs")
        if self.scoring == "approx" and not self.judge:
            raise BenchmarkError(f"benchmark {self.name}: an approximate benchmark names its official judge protocol")

    @property
    def runnable(self) -> bool:
        return self.scoring != "unavailable"

    def scoring_with(self, judged: bool) -> str:
        """How a run scores it: "judge" (the official protocol, with a judge model), else the registry's scoring."""
        return "judge" if judged and self.judge else self.scoring

    def require_runnable(self) -> None:
        """Raise a clear error when this benchmark can't be scored offline."""
        if not self.runnable:
            raise BenchmarkError(
                f"{self.title} can't be scored offline: it needs {self.needs}. thinkvl converts its items "
                f"(thinkvl.eval.loaders.load_benchmark) but does not run it."
            )


def _mc(**kw: Any) -> dict[str, Any]:
    return {"domains": ("choice",), **kw}


# The keys of MathVista's official score table (scores_*.json), so per-category results compare one to one.
MATHVISTA_BREAKDOWN = (
    "question_type",
    "answer_type",
    "language",
    "source",
    "category",
    "task",
    "context",
    "grade",
    "skills",
)
# RefCOCO-avg: the eight splits the report averages, as (subset, HF dataset, folder under --data-dir, split).
REFCOCO_SPLITS: tuple[tuple[str, str, str, str], ...] = (
    ("RefCOCO val", "lmms-lab/RefCOCO", "refcoco", "val"),
    ("RefCOCO testA", "lmms-lab/RefCOCO", "refcoco", "testA"),
    ("RefCOCO testB", "lmms-lab/RefCOCO", "refcoco", "testB"),
    ("RefCOCO+ val", "lmms-lab/RefCOCOplus", "refcoco_plus", "val"),
    ("RefCOCO+ testA", "lmms-lab/RefCOCOplus", "refcoco_plus", "testA"),
    ("RefCOCO+ testB", "lmms-lab/RefCOCOplus", "refcoco_plus", "testB"),
    ("RefCOCOg val", "lmms-lab/RefCOCOg", "refcocog", "val"),
    ("RefCOCOg test", "lmms-lab/RefCOCOg", "refcocog", "test"),
)
_VIDEO_NOTE = "videos are downloaded separately (see the dataset card); frames are decoded with PyAV (`pip install av`)"

BENCHMARK_LIST: tuple[Benchmark, ...] = (
    # ---------------------------------------------------------------- General VQA
    Benchmark(
        name="mmbench_en",
        title="MMBench-EN",
        group="General VQA",
        loader="mmbench",
        metric="circular_accuracy",
        hf_id="lmms-lab/MMBench",
        hf_configs=("en",),
        split="dev",
        local_dir="mmbench",
        files="MMBench_DEV_EN_V11.tsv (VLMEvalKit TSV, base64 images) or HF parquet",
        breakdown=("category", "l2_category"),
        media="embedded (base64 in the TSV, bytes in parquet)",
        options={"tsv": "MMBench_DEV_EN_V11.tsv"},
        **_mc(),
    ),
    Benchmark(
        name="mmbench_cn",
        title="MMBench-CN",
        group="General VQA",
        loader="mmbench",
        metric="circular_accuracy",
        hf_id="lmms-lab/MMBench",
        hf_configs=("cn",),
        split="dev",
        local_dir="mmbench",
        files="MMBench_DEV_CN_V11.tsv (VLMEvalKit TSV, base64 images) or HF parquet",
        breakdown=("category", "l2_category"),
        media="embedded (base64 in the TSV, bytes in parquet)",
        options={"tsv": "MMBench_DEV_CN_V11.tsv"},
        **_mc(),
    ),
    Benchmark(
        name="mmstar",
        title="MMStar",
        group="General VQA",
        loader="mmstar",
        metric="accuracy",
        hf_id="Lin-Chen/MMStar",
        split="val",
        local_dir="mmstar",
        files="mmstar.parquet (HF snapshot)",
        breakdown=("category", "l2_category"),
        media="embedded (image bytes in parquet)",
        **_mc(),
    ),
    Benchmark(
        name="blink",
        title="BLINK",
        group="General VQA",
        loader="blink",
        metric="accuracy",
        hf_id="BLINK-Benchmark/BLINK",
        hf_configs=(
            "Art_Style",
            "Counting",
            "Forensic_Detection",
            "Functional_Correspondence",
            "IQ_Test",
            "Jigsaw",
            "Multi-view_Reasoning",
            "Object_Localization",
            "Relative_Depth",
            "Relative_Reflectance",
            "Semantic_Correspondence",
            "Spatial_Relation",
            "Visual_Correspondence",
            "Visual_Similarity",
        ),
        split="val",
        local_dir="blink",
        files="<subtask>/val-*.parquet (HF snapshot; test answers are hidden)",
        breakdown=("sub_task",),
        media="embedded (image_1..image_4 bytes in parquet)",
        **_mc(),
    ),
    Benchmark(
        name="muirbench",
        title="MUIRBench",
        group="General VQA",
        loader="muirbench",
        metric="accuracy",
        hf_id="MUIRBENCH/MUIRBENCH",
        split="test",
        local_dir="muirbench",
        files="data/test-*.parquet (HF snapshot)",
        breakdown=("task", "image_relation"),
        media="embedded (image_list bytes in parquet)",
        **_mc(),
    ),
    # ---------------------------------------------------------------- STEM
    Benchmark(
        name="mmmu",
        title="MMMU",
        group="STEM",
        loader="mmmu",
        metric="accuracy",
        hf_id="MMMU/MMMU",
        split="validation",
        local_dir="mmmu",
        files="<Subject>/validation-*.parquet (HF snapshot, 30 subject configs)",
        domains=("choice", "vqa"),
        verifiers={"vqa": "mmmu_open"},
        breakdown=("subject",),
        media="embedded (image_1..image_7 bytes in parquet)",
    ),
    Benchmark(
        name="mmmu_pro",
        title="MMMU-Pro",
        group="STEM",
        loader="mmmu_pro",
        metric="mean_of_subsets",
        hf_id="MMMU/MMMU_Pro",
        hf_configs=("standard (10 options)", "vision"),
        split="test",
        local_dir="mmmu_pro",
        files="standard (10 options)/test-*.parquet and vision/test-*.parquet (HF snapshot)",
        breakdown=("subset", "subject"),
        media="embedded (image bytes in parquet; the vision setting is one screenshot per question)",
        **_mc(),
    ),
    Benchmark(
        name="videommmu",
        title="VideoMMMU",
        group="STEM",
        loader="videommmu",
        metric="accuracy",
        hf_id="lmms-lab/VideoMMMU",
        hf_configs=("Perception", "Comprehension", "Adaptation"),
        split="test",
        local_dir="videommmu",
        files="<Track>/test-*.parquet plus videos/<Track>/<id>.mp4",
        domains=("choice", "vqa"),
        verifiers={"vqa": "mmmu_open"},
        breakdown=("track",),
        media=_VIDEO_NOTE,
        options={"num_frames": 16},
    ),
    Benchmark(
        name="ai2d",
        title="AI2D",
        group="STEM",
        loader="ai2d",
        metric="accuracy",
        hf_id="lmms-lab/ai2d",
        split="test",
        local_dir="ai2d",
        files="data/test-*.parquet (HF snapshot)",
        media="embedded (image bytes in parquet)",
        **_mc(),
    ),
    Benchmark(
        name="mathvista",
        title="MathVista",
        group="STEM",
        loader="mathvista",
        metric="accuracy",
        hf_id="AI4Math/MathVista",
        split="testmini",
        local_dir="mathvista",
        files="testmini.json + images/ (GitHub release) or data/testmini-*.parquet (HF, decoded_image)",
        domains=("choice", "math"),
        verifiers={"choice": "mathvista", "math": "mathvista"},
        breakdown=MATHVISTA_BREAKDOWN,
        judge="mathvista",
        media="images/<pid>.jpg beside testmini.json (images.zip of the release), or embedded in parquet",
    ),
    Benchmark(
        name="wemath",
        title="WeMath",
        group="STEM",
        loader="wemath",
        metric="wemath_strict",
        hf_id="We-Math/We-Math",
        split="testmini",
        local_dir="wemath",
        files="testmini.json + image files (GitHub/HF release) or testmini parquet",
        breakdown=("steps",),
        media="image_path files beside testmini.json",
        **_mc(),
    ),
    # ---------------------------------------------------------------- OCR & Chart
    Benchmark(
        name="chartqapro",
        title="ChartQAPro",
        group="OCR & Chart",
        loader="chartqapro",
        metric="mean_score",
        hf_id="ahmed-masry/ChartQAPro",
        split="test",
        local_dir="chartqapro",
        files="data/test-*.parquet (HF snapshot)",
        domains=("chart",),
        verifiers={"chart": "chartqapro"},
        breakdown=("question_type",),
        media="embedded (image bytes in parquet)",
    ),
    Benchmark(
        name="chartmuseum",
        title="ChartMuseum",
        group="OCR & Chart",
        loader="chartmuseum",
        metric="accuracy",
        hf_id="lytang/ChartMuseum",
        split="test",
        local_dir="chartmuseum",
        files="data/test-*.parquet + images/ (HF snapshot)",
        domains=("chart",),
        verifiers={"chart": "chartqa_relaxed"},
        breakdown=("reasoning_type",),
        scoring="approx",
        judge="chartmuseum",
        needs="the official score uses an LLM judge (gpt-4.1-mini) for answer equivalence; thinkvl scores the box by "
        "relaxed match (5% numeric tolerance, normalised text equality) unless a judge model is given",
        media="images/ folder of the HF repository",
    ),
    Benchmark(
        name="ocrbench",
        title="OCRBench",
        group="OCR & Chart",
        loader="ocrbench",
        metric="ocrbench_count",
        hf_id="echo840/OCRBench",
        split="test",
        local_dir="ocrbench",
        files="OCRBench.json + OCRBench_Images/ (GitHub release) or HF parquet",
        domains=("ocr",),
        verifiers={"ocr": "ocrbench"},
        breakdown=("type",),
        media="OCRBench_Images/<image_path> beside OCRBench.json, or embedded in parquet",
    ),
    # ---------------------------------------------------------------- Long document
    Benchmark(
        name="mmlongbench_doc",
        title="MMLongBench-Doc",
        group="Long document",
        loader="mmlongbench",
        metric="mmlongbench",
        hf_id="yubo2333/MMLongBench-Doc",
        split="train",
        local_dir="mmlongbench_doc",
        files="samples.json (GitHub) or data/train-*.parquet, plus documents/<doc_id>.pdf",
        domains=("vqa",),
        verifiers={"vqa": "mmlongbench"},
        breakdown=("answer_format", "doc_type"),
        scoring="approx",
        judge="mmlongbench",
        needs="the official pipeline extracts answers with GPT-4o before its rule scorer; thinkvl applies the same "
        "per-format rules to the boxed answer unless a judge model is given",
        media="documents/<doc_id>.pdf rendered with pypdfium2 (`pip install pypdfium2`), or pre-rendered "
        "pages/<doc stem>/<n>.png",
        options={"max_pages": 32, "dpi": 72},
    ),
    # ---------------------------------------------------------------- Grounding
    Benchmark(
        name="refcoco_avg",
        title="RefCOCO-avg",
        group="Grounding",
        loader="refcoco_avg",
        metric="mean_of_subsets",
        hf_id="lmms-lab/RefCOCO",
        split="val, testA, testB (RefCOCO, RefCOCO+), val, test (RefCOCOg)",
        local_dir="refcoco",
        files="refcoco/, refcoco_plus/, refcocog/ under --data-dir: the lmms-lab/RefCOCO, RefCOCOplus and RefCOCOg HF "
        "snapshots (data/<split>-*.parquet)",
        domains=("grounding",),
        verifiers={"grounding": "grounding"},
        verifier_options={"grounding": {"reward": "threshold", "iou_threshold": 0.5}},
        breakdown=("subset",),
        media="embedded (COCO train2014 image bytes in parquet)",
        options={"splits": REFCOCO_SPLITS},
    ),
    Benchmark(
        name="refcoco",
        title="RefCOCO (val)",
        group="Grounding",
        loader="refcoco",
        metric="accuracy",
        hf_id="lmms-lab/RefCOCO",
        split="val",
        local_dir="refcoco",
        files="data/val-*.parquet (HF snapshot: bbox [x, y, w, h] in pixels, answer = referring expressions)",
        domains=("grounding",),
        verifiers={"grounding": "grounding"},
        verifier_options={"grounding": {"reward": "threshold", "iou_threshold": 0.5}},
        media="embedded (COCO train2014 image bytes in parquet)",
        in_report=False,  # the report's figure is RefCOCO-avg
    ),
    # ---------------------------------------------------------------- GUI agents
    Benchmark(
        name="osworld",
        title="OSWorld",
        group="GUI agents",
        loader="osworld",
        metric="accuracy",
        hf_id=None,
        split="test",
        local_dir="osworld",
        files="evaluation_examples/examples/<app>/<task id>.json (xlang-ai/OSWorld)",
        domains=("gui",),
        scoring="unavailable",
        needs="a live Ubuntu virtual machine driven by OSWorld's DesktopEnv, whose task checkers read the final "
        "machine state",
    ),
    Benchmark(
        name="androidworld",
        title="AndroidWorld",
        group="GUI agents",
        loader="androidworld",
        metric="accuracy",
        hf_id=None,
        split="test",
        local_dir="androidworld",
        files="tasks.jsonl exported from android_world's task registry (name, goal template, params)",
        domains=("gui",),
        scoring="unavailable",
        needs="an Android emulator (AVD) controlled by android_world, whose tasks check the device state",
    ),
    Benchmark(
        name="webvoyager",
        title="WebVoyager",
        group="GUI agents",
        loader="webvoyager",
        metric="accuracy",
        hf_id=None,
        split="test",
        local_dir="webvoyager",
        files="WebVoyager_data.jsonl (MinorJerry/WebVoyager: web_name, id, ques, web)",
        domains=("gui",),
        scoring="unavailable",
        needs="a live browser on the open web (Set-of-Marks screenshots) and a GPT-4V judge of the final trajectory",
    ),
    Benchmark(
        name="webquest_single",
        title="Webquest-Single",
        group="GUI agents",
        loader="webquest",
        metric="accuracy",
        hf_id=None,
        split="test",
        local_dir="webquest",
        files="single_screen.jsonl: {id, question, answer, screenshots: [paths]} + screenshots/",
        domains=("vqa",),
        verifiers={"vqa": "webquest"},
        media="screenshots/ beside the annotation file",
        options={"file": "single_screen.jsonl"},
    ),
    Benchmark(
        name="webquest_multi",
        title="Webquest-Multi",
        group="GUI agents",
        loader="webquest",
        metric="accuracy",
        hf_id=None,
        split="test",
        local_dir="webquest",
        files="multi_screen.jsonl: {id, question, answer, screenshots: [paths]} + screenshots/",
        domains=("vqa",),
        verifiers={"vqa": "webquest"},
        media="screenshots/ beside the annotation file",
        options={"file": "multi_screen.jsonl"},
    ),
    # ---------------------------------------------------------------- Coding
    Benchmark(
        name="design2code",
        title="Design2Code",
        group="Coding",
        loader="design2code",
        metric="design2code",
        hf_id="SALT-NLP/Design2Code-hf",
        split="train",
        local_dir="design2code",
        files="data/train-*.parquet (HF snapshot: image, text = reference HTML)",
        domains=("vqa",),
        scoring="render",
        needs=RENDER_NEEDS + "; the generated and the reference HTML are rendered and compared by block match, text, "
        "position, colour and CLIP similarity",
        media="embedded (screenshot bytes in parquet)",
    ),
    Benchmark(
        name="flame_react",
        title="Flame-React",
        group="Coding",
        loader="flame",
        metric="flame_pass",
        hf_id="Flame-Code-VLM/Flame-Eval-React",
        split="test",
        local_dir="flame_react",
        files="data/test-*.parquet (HF snapshot: image = design screenshot, component, style)",
        domains=("vqa",),
        scoring="render",
        needs=RENDER_NEEDS + ", Node.js with the renderer's packages (npm ci --prefix src/thinkvl/eval/render/js); "
        "the component is compiled and mounted, and passes when visual similarity x code score >= 0.9",
        breakdown=("complexity_level",),
        media="embedded (design screenshot bytes in parquet)",
    ),
    # ---------------------------------------------------------------- Video
    Benchmark(
        name="videomme",
        title="VideoMME (w/o sub)",
        group="Video",
        loader="videomme",
        metric="accuracy",
        hf_id="lmms-lab/Video-MME",
        split="test",
        local_dir="videomme",
        files="videomme/test-*.parquet plus data/<videoID>.mp4",
        breakdown=("duration", "task_type", "domain"),
        media=_VIDEO_NOTE,
        options={"num_frames": 32, "subtitles": False},
        **_mc(),
    ),
    Benchmark(
        name="videomme_sub",
        title="VideoMME (w/ sub)",
        group="Video",
        loader="videomme",
        metric="accuracy",
        hf_id="lmms-lab/Video-MME",
        split="test",
        local_dir="videomme",
        files="videomme/test-*.parquet plus data/<videoID>.mp4 and subtitle/<videoID>.srt",
        breakdown=("duration", "task_type", "domain"),
        media=_VIDEO_NOTE + "; subtitles are subtitle/<videoID>.srt",
        options={"num_frames": 32, "subtitles": True},
        **_mc(),
    ),
    Benchmark(
        name="mmvu",
        title="MMVU",
        group="Video",
        loader="mmvu",
        metric="accuracy",
        hf_id="yale-nlp/MMVU",
        split="validation",
        local_dir="mmvu",
        files="validation.json plus videos/<Subject>/<n>.mp4",
        domains=("choice", "vqa"),
        breakdown=("subject", "question_type"),
        scoring="approx",
        judge="mmvu",
        needs="the official score judges answers with GPT-4o; thinkvl scores multiple choice by letter and "
        "open-ended answers with the short-answer verifier unless a judge model is given",
        media=_VIDEO_NOTE,
        options={"num_frames": 16},
    ),
    Benchmark(
        name="lvbench",
        title="LVBench",
        group="Video",
        loader="lvbench",
        metric="accuracy",
        hf_id="THUDM/LVBench",
        split="test",
        local_dir="lvbench",
        files="video_info.meta.jsonl plus videos/<key>.mp4",
        breakdown=("question_type",),
        media=_VIDEO_NOTE,
        options={"num_frames": 32},
        **_mc(),
    ),
    Benchmark(
        name="motionbench",
        title="MotionBench",
        group="Video",
        loader="motionbench",
        metric="accuracy",
        hf_id="THUDM/MotionBench",
        split="dev",
        local_dir="motionbench",
        files="video_info.meta.jsonl plus the video_path files (dev answers are public; test answers are 'NA')",
        breakdown=("question_type",),
        media=_VIDEO_NOTE,
        options={"num_frames": 16},
        **_mc(),
    ),
    # ---------------------------------------------------------------- extras (not in the report's table)
    Benchmark(
        name="chartqa",
        title="ChartQA",
        group="OCR & Chart",
        loader="chartqa",
        metric="accuracy",
        hf_id="ahmed-masry/ChartQA",
        split="test",
        local_dir="chartqa",
        files="test/test_human.json + test/test_augmented.json + test/png/ (vis-nlp/ChartQA release)",
        domains=("chart",),
        verifiers={"chart": "chartqa_relaxed"},
        breakdown=("subset",),
        media="test/png/<imgname> beside the annotation files",
        in_report=False,
    ),
    # ---------------------------------------------------------------- built-in
    Benchmark(
        name="synth",
        title="Synthetic suite",
        group="Synthetic",
        loader="synth",
        metric="accuracy",
        hf_id=None,
        split="held-out",
        local_dir="synth",
        files="generated by thinkvl.data.synth on a held-out seed",
        domains=("counting", "chart", "ocr", "grounding", "math", "choice", "video"),
        breakdown=("domain", "level"),
        media="generated",
        options={"n": 20},
        in_report=False,
    ),
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in BENCHMARK_LIST}
REPORT_BENCHMARKS: tuple[str, ...] = tuple(b.name for b in BENCHMARK_LIST if b.in_report)


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by name or title (case-insensitive); an unknown one is an error listing the known names."""
    key = name.strip().lower()
    for b in BENCHMARK_LIST:
        if key in (b.name, b.title.lower()):
            return b
    raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def benchmarks_in_group(group: str) -> list[Benchmark]:
    return [b for b in BENCHMARK_LIST if b.group.lower() == group.lower()]


def resolve_tasks(specs: Iterable[str]) -> list[Benchmark]:
    """Expand task names: a benchmark, a group name, ``all`` (the report's 28) or ``offline`` (those scorable
    offline). Order is kept, duplicates dropped."""
    out: list[Benchmark] = []
    for spec in specs:
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            low = part.lower()
            if low == "all":
                found = [BENCHMARKS[n] for n in REPORT_BENCHMARKS]
            elif low == "offline":
                found = [BENCHMARKS[n] for n in REPORT_BENCHMARKS if BENCHMARKS[n].runnable]
            elif any(g.lower() == low for g in GROUPS):
                found = benchmarks_in_group(part)
            else:
                found = [get_benchmark(part)]
            out += [b for b in found if b not in out]
    if not out:
        raise BenchmarkError("no tasks given")
    return out


def group_members(benchmarks: Sequence[Benchmark]) -> dict[str, list[Benchmark]]:
    """Benchmarks by group, in the report's group order."""
    return {g: [b for b in benchmarks if b.group == g] for g in GROUPS if any(b.group == g for b in benchmarks)}
