"""Two bugs found while wiring the endpoint in: `thinkvl eval list` was rewritten to `eval run list`, and a null
("no cap") thinking budget became a 512-token cap in `make_generate`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from thinkvl.cli import _normalise_argv, main
from thinkvl.data.record import Record
from thinkvl.model.generate import Rollout, SamplingParams, make_generate


def test_eval_list_lists_the_benchmarks(capsys):
    assert main(["eval", "list"]) == 0
    out = capsys.readouterr().out
    assert "mathvista" in out and "ocrbench" in out


def test_only_options_are_rewritten_to_eval_run():
    assert _normalise_argv(["eval", "--endpoint", "http://h/v1"]) == ["eval", "run", "--endpoint", "http://h/v1"]
    for sub in (["eval", "list"], ["eval", "compare", "a"], ["eval", "run", "--model", "m"], ["eval", "--help"]):
        assert _normalise_argv(sub) == sub


class _Engine:
    """Records the sampling parameters; its model's context is 4096 tokens."""

    def __init__(self) -> None:
        text = SimpleNamespace(max_position_embeddings=4096)
        self.bundle = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(get_text_config=lambda: text)))
        self.seen: list[SamplingParams] = []

    def generate(self, records: list[Record], root: str | Path, params: SamplingParams) -> list[Rollout]:
        self.seen.append(params)
        return [Rollout(r.id, "<think>t</think><answer>a</answer>") for r in records]


def test_null_budget_is_no_cap_and_a_number_is_the_cap():
    engine = _Engine()
    generate = make_generate(engine)
    record = Record(id="a", domain="vqa", messages=[{"role": "user", "content": "hi"}], answer="a")
    generate([record], Path("."), None)
    generate([record], Path("."), 64)
    assert [p.thinking_budget for p in engine.seen] == [4096, 64]  # not 512: only the context limits a null budget
