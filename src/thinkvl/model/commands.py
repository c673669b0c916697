"""`thinkvl chat`: ask a model one question about an image or video, with an optional thinking budget."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from thinkvl.data.record import Record
from thinkvl.model.tokens import ANSWER_BUDGET, THINKING_BUDGET


def _fps(text: str) -> float:
    """A frame rate: a finite number > 0 (frame times are frame index / fps)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def chat_record(question: str, image: str | None, video: list[str] | None, fps: float) -> tuple[Record, Path]:
    """The question as a validated record, and the directory its files are relative to (their common parent, so
    the media checks of `thinkvl.data.record.media_path` hold for files the user named). A ``video`` value is a
    frame file or a directory whose files, in name order, are the frames."""
    frames: list[Path] = []
    for value in video or []:
        path = Path(value)
        frames += sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    if video and not frames:
        raise ValueError(f"--video {video[0]}: no frame files in it")
    files = ([Path(image)] if image else []) + frames
    missing = next((f for f in files if not f.is_file()), None)
    if missing is not None:
        raise ValueError(f"no such file: {missing}")
    files = [f.resolve() for f in files]
    root = Path(os.path.commonpath([f.parent for f in files])) if files else Path.cwd()
    names = [f.relative_to(root).as_posix() for f in files]
    content: list[dict] = []
    if image:
        content.append({"type": "image", "image": names.pop(0)})
    if frames:
        content.append({"type": "video", "video": names, "fps": fps})
    content.append({"type": "text", "text": question})
    messages = [{"role": "user", "content": content}]
    return Record.from_dict({"id": "chat", "domain": "vqa", "messages": messages, "answer": "?"}), root


def _chat(args: argparse.Namespace) -> int:
    from thinkvl.model import load_bundle, parse_response
    from thinkvl.model.generate import SamplingParams, TransformersEngine

    record, root = chat_record(args.question, args.image, args.video, args.fps)  # bad input fails before loading
    bundle = load_bundle(args.model)
    bundle.model.eval()
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
    media = p.add_mutually_exclusive_group()  # one image or one video per question
    media.add_argument("--image", help="image file")
    # One value per flag (repeat it for more frames), so a question after it is never taken for a frame.
    media.add_argument(
        "--video",
        action="append",
        metavar="FRAMES",
        help="a directory of video frames (in name order), or one frame file per --video, in order",
    )
    p.add_argument("--fps", type=_fps, default=2.0, help="rate the frames were sampled at (> 0)")
    p.add_argument(
        "--thinking-budget", type=int, default=THINKING_BUDGET, help="force an answer after this many thinking tokens"
    )
    p.add_argument("--answer-budget", type=int, default=ANSWER_BUDGET, help="tokens to answer in after forcing")
    p.add_argument("--no-think", action="store_true", help="answer directly (empty thinking)")
    p.add_argument("--sample", action="store_true", help="sample (temperature 1) instead of greedy decoding")
    p.set_defaults(func=_chat)
