"""Evaluation harness: the report's 28 benchmarks (plus the synthetic suite), their loaders and metrics, a resumable
runner scoring through `thinkvl.reward`, markdown/plot reports, and run comparison.

    from thinkvl.eval import EvalConfig, run_eval
    config = EvalConfig(tasks=["mathvista", "ocrbench"], thinking_budgets=[None, 1024], data_dir="benchmarks/")
    results = run_eval(config, generate, "runs/eval1")
"""

from thinkvl.eval.compare import compare_runs
from thinkvl.eval.loaders import LoadedBenchmark, load_benchmark
from thinkvl.eval.metrics import METRICS, MetricResult
from thinkvl.eval.registry import BENCHMARKS, GROUPS, Benchmark, BenchmarkError, get_benchmark, resolve_tasks
from thinkvl.eval.runner import EvalConfig, EvalError, Generate, run_eval

__all__ = [
    "BENCHMARKS",
    "GROUPS",
    "METRICS",
    "Benchmark",
    "BenchmarkError",
    "EvalConfig",
    "EvalError",
    "Generate",
    "LoadedBenchmark",
    "MetricResult",
    "compare_runs",
    "get_benchmark",
    "load_benchmark",
    "resolve_tasks",
    "run_eval",
]
