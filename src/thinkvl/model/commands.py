"""`thinkvl chat`: ask a model one question about an image or video, with an optional thinking budget."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from thinkvl.model.tokens import ANSWER_BUDGET, THINKING_BUDGET


def _chat(args: argparse.Namespace) -> int:
    from thinkvl.data.record import Record
    from thinkvl.model import load_bundle, parse_response
    from thinkvl.model.generate import SamplingParams, TransformersEngine

    bundle = load_bundle(args.model)
    bundle.model.eval()
    content: list[dict] = []
    root = Path(tempfile.gettempdir())
    if args.image:
        path = Path(args.image).resolve()
        root = path.parent
        content.append({"type": "image", "image": path.name})
    if args.video:
        frames = [Path(f).resolve() for f in args.video]
        root = frames[0].parent
        content.append({"type": "video", "video": [f.name for f in frames], "fps": args.fps})
    content.append({"type": "text", "text": args.question})
    record = Record("chat", "vqa", [{"role": "user", "content": content}], "?")
    params = SamplingParams(
        greedy=not args.sample,
        thinking=not args.no_think,
        thinking_budget=args.thinking_budget,
        answer_budget=args.answer_budget,
    )
    rollout = TransformersEngine(bundle, batch_size=1).generate([record], root, params)[0]
    parsed = parse_response(rollout.text, thinking=not args.no_think, require_box=False)
    if parsed.thinking:
        print(f"[thinking{' (forced to answer)' if rollout.forced else ''}] {parsed.thinking.strip()}")
    print(f"[answer] {parsed.answer if parsed.answer is not None else rollout.text}")
    if parsed.box is not None:
        print(f"[boxed] {parsed.box}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="ask a model a question about an image or video frames")
    p.add_argument("question")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--image", help="image file")
    p.add_argument("--video", nargs="+", help="video frame files, in order")
    p.add_argument("--fps", type=float, default=2.0, help="rate the frames were sampled at")
    p.add_argument(
        "--thinking-budget", type=int, default=THINKING_BUDGET, help="force an answer after this many thinking tokens"
    )
    p.add_argument("--answer-budget", type=int, default=ANSWER_BUDGET, help="tokens to answer in after forcing")
    p.add_argument("--no-think", action="store_true", help="answer directly (empty thinking)")
    p.add_argument("--sample", action="store_true", help="sample (temperature 1) instead of greedy decoding")
    p.set_defaults(func=_chat)
