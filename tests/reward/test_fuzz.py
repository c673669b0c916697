"""Adversarial token soup in every domain: never an exception, never a verifier error, rewards in range."""

from __future__ import annotations

import random

PIECES = [
    "\\frac", "{", "}", "(", ")", "[", "]", "^", "_", "\\sqrt", "x", "1", "2.5", "-", "+", "*", "/", "!", "%",
    "\\pi", "\\infty", ",", "=", "<", "\\le", "\\pm", "\\cup", "\\{", "\\}", "|", "\\text{cm}", "\\text{or}", "e",
    "\\sin", "\\log_", "&", "\\\\", "\\begin{pmatrix}", "\\end{pmatrix}", " ", "°", "²", "√", "π", "\\left(",
    "\\right)", "9", "99", "\\binom", "A", "B", "yes", "click(", 'type("', '"', "->", "then", "1:02",
    "<|begin_of_box|>", "<|end_of_box|>", "</answer>", "<think>", "\u200b", "１", "\u0412", "9^{9^{9}}", "(99)!",
]  # fmt: skip
RECORDS = [
    {"domain": "math", "answer": "\\frac{1}{2}"},
    {"domain": "counting", "answer": 3},
    {"domain": "chart", "answer": "[2014, 2016]"},
    {"domain": "ocr", "answer": ["ab", "cd"]},
    {"domain": "grounding", "answer": [[0, 0, 10, 10], [5, 5, 20, 20]]},
    {"domain": "choice", "answer": "B", "meta": {"choices": ["x", "y", "z"]}},
    {"domain": "vqa", "answer": "yes"},
    {"domain": "video", "answer": 12.0},
    {"domain": "video", "answer": "a, b, c", "meta": {"video_task": "order"}},
    {"domain": "gui", "answer": {"action": "click", "box": [0, 0, 100, 100]}},
    {"domain": "gui", "answer": {"action": "type", "text": "hi"}},
]


def test_token_soup_never_crashes(inproc) -> None:
    rng = random.Random(1234)
    responses, records = [], []
    for k in range(2200):
        box = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 20)))
        wrap = rng.random() < 0.8
        responses.append(f"<think>t</think><answer><|begin_of_box|>{box}<|end_of_box|></answer>" if wrap else box)
        records.append(RECORDS[k % len(RECORDS)])
    verdicts = inproc.score_batch(responses, records)
    assert len(verdicts) == len(responses)
    assert not [v.reason for v in verdicts if "error" in v.reason]
    assert all(0.0 <= v.reward <= 1.0 for v in verdicts)
    assert sum(v.format_ok for v in verdicts) > 800  # many soups were well-formed: the verifiers really ran
