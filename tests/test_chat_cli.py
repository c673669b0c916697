"""`thinkvl chat`: bad frame rates and an image with a video are one-line errors, a question after ``--video`` is the
question, and the chat record's files are checked like any record's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from thinkvl.cli import build_parser, main
from thinkvl.model.commands import chat_record
from thinkvl.model.processor import load_media


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    (tmp_path / "clip").mkdir()
    for i in range(3):
        Image.new("RGB", (28, 28), (80 * i, 0, 0)).save(tmp_path / "clip" / f"{i}.png")
    Image.new("RGB", (28, 28), "blue").save(tmp_path / "f.png")
    return tmp_path


def _usage_error(capsys, argv: list[str], needle: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and needle in err.strip().splitlines()[-1], err


@pytest.mark.parametrize("fps", ["0", "-2", "nan", "fast"])
def test_a_frame_rate_must_be_a_positive_number(capsys, frames, fps):
    argv = ["chat", "q", "--model", "m", "--video", str(frames / "f.png"), "--fps", fps]
    _usage_error(capsys, argv, "argument --fps: must be a number")


def test_an_image_with_a_video_is_refused(capsys, frames):
    argv = ["chat", "q", "--model", "m", "--image", str(frames / "f.png"), "--video", str(frames / "clip")]
    _usage_error(capsys, argv, "argument --video: not allowed with argument --image")


def test_the_question_after_video_is_the_question(frames):
    args = build_parser().parse_args(["chat", "--model", "m", "--video", str(frames / "f.png"), "what is it?"])
    assert args.question == "what is it?" and args.video == [str(frames / "f.png")]
    args = build_parser().parse_args(["chat", "q", "--model", "m", "--video", "a.png", "--video", "b.png"])
    assert args.video == ["a.png", "b.png"]


def test_the_chat_record_uses_the_files_named(frames):
    record, root = chat_record("what?", None, [str(frames / "clip"), str(frames / "f.png")], 4.0)
    assert root == frames.resolve()
    (video,) = [p for p in record.messages[0]["content"] if p["type"] == "video"]
    assert video == {"type": "video", "video": ["clip/0.png", "clip/1.png", "clip/2.png", "f.png"], "fps": 4.0}
    _, videos, metadata = load_media(record.messages, root)
    assert videos[0].shape[0] == 4 and metadata[0].fps == 4.0
    record, root = chat_record("what?", str(frames / "f.png"), None, 2.0)
    assert record.messages[0]["content"][0] == {"type": "image", "image": "f.png"} and root == frames.resolve()


def test_a_missing_file_or_empty_directory_is_named(frames, capsys):
    (frames / "empty").mkdir()
    with pytest.raises(ValueError, match="no such file: .*nope.png"):
        chat_record("q", str(frames / "nope.png"), None, 2.0)
    with pytest.raises(ValueError, match="no frame files"):
        chat_record("q", None, [str(frames / "empty")], 2.0)
    assert main(["chat", "q", "--model", str(frames / "no-model"), "--image", str(frames / "nope.png")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_video_with_a_zero_rate_is_refused_before_dividing(frames):
    messages = [{"role": "user", "content": [{"type": "video", "video": ["f.png"], "fps": 0}]}]
    with pytest.raises(ValueError, match="fps > 0"):
        load_media(messages, frames)


def test_chat_answers_about_a_video_given_before_the_question(frames, tmp_path, tiny_bundle, capsys):
    from thinkvl.model import save_bundle

    model = save_bundle(tiny_bundle, tmp_path / "model")
    argv = ["chat", "--model", str(model), "--video", str(frames / "clip"), "--thinking-budget", "4"]
    assert main([*argv, "--answer-budget", "4", "--fps", "1", "what changes?"]) == 0
    assert "[answer]" in capsys.readouterr().out
