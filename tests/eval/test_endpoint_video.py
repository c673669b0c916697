"""A video over HTTP goes as one video part (vLLM's ``video/jpeg`` frame sequence) with its frame rate, so the
server's glm4v stamps each frame's time; loose frames are the fallback, and every prediction says which was sent."""

from __future__ import annotations

import base64

import pytest

from thinkvl.data.record import Record
from thinkvl.eval.endpoint import EndpointModel
from thinkvl.eval.runner import EndpointConfig
from thinkvl.eval.stub_server import Reply, StubServer, chat_reply

ANSWER = "<think>Short.</think><answer>It is <|begin_of_box|>2<|end_of_box|></answer>"
FRAMES = ["green.png", "blue.png", "yellow.png"]


def _video_record(rid: str, fps: float = 2.0) -> Record:
    parts = [
        {"type": "image", "image": "red.png"},
        {"type": "video", "video": FRAMES, "fps": fps},
        {"type": "text", "text": "How many times does the colour change?"},
    ]
    return Record(rid, "video", [{"role": "user", "content": parts}], "2")


@pytest.fixture
def media(tmp_path, kit):
    for c in ("red", "green", "blue", "yellow"):
        (tmp_path / f"{c}.png").write_bytes(kit.png(c))
    return tmp_path


def _collect(model: EndpointModel, records: list[Record], root, budget=None) -> dict:
    return {rec.id: g for chunk in model.stream(records, root, budget) for rec, g in chunk}


def test_video_goes_as_one_video_part_with_its_frame_rate(media):
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        got = _collect(EndpointModel(EndpointConfig(server.url, "glm")), [_video_record("v1", fps=4.0)], media)
    (seen,) = server.requests
    content = seen.body["messages"][0]["content"]
    assert [p["type"] for p in content] == ["image_url", "video_url", "text"]
    url = content[1]["video_url"]["url"]
    head, _, payload = url.partition(",")
    assert head == "data:video/jpeg;base64"  # vLLM's frame-sequence format: base64 frames joined by commas
    frames = [base64.b64decode(p) for p in payload.split(",")]
    assert frames == [(media / f).read_bytes() for f in FRAMES]  # every frame, in order, byte for byte
    assert seen.body["media_io_kwargs"] == {"video": {"fps": 4.0, "num_frames": -1}}
    assert got["v1"].info["video_via"] == "video" and got["v1"].text == ANSWER


def test_a_server_that_refuses_video_gets_frames_and_the_results_say_so(media):
    def reply(path: str, body: dict) -> Reply:
        kinds = [p["type"] for p in body["messages"][0]["content"]]
        if "video_url" in kinds:
            return Reply(400, {"error": {"message": "video input is not supported by this model"}})
        return chat_reply(ANSWER)

    records = [_video_record(f"v{k}") for k in range(3)]
    with StubServer(reply) as server:
        got = _collect(EndpointModel(EndpointConfig(server.url, "glm", concurrency=1)), records, media)
    assert all(g.text == ANSWER and g.info["video_via"] == "frames" for g in got.values())
    assert "not supported" in got["v0"].info["video_refused"]
    # Refused once: the later items go straight as frames (3 images each beside the still image).
    kinds = [[p["type"] for p in r.body["messages"][0]["content"]] for r in server.requests]
    assert kinds[0] == ["image_url", "video_url", "text"]
    assert kinds[1:] == [["image_url"] * 4 + ["text"]] * 3
    assert all("media_io_kwargs" not in r.body for r in server.requests[1:])


def test_video_only_refuses_rather_than_falling_back(media):
    def reply(path: str, body: dict) -> Reply:
        return Reply(400, {"error": {"message": "no video here"}})

    with StubServer(reply) as server:
        model = EndpointModel(EndpointConfig(server.url, "glm", video_via="video"))
        got = _collect(model, [_video_record("v1")], media)
    assert got["v1"].text is None and "no video here" in got["v1"].error and len(server.requests) == 1


def test_forced_answer_repeats_the_video_and_its_rate(media):
    def reply(path: str, body: dict) -> Reply:
        if body.get("continue_final_message"):
            return chat_reply("It is <|begin_of_box|>2<|end_of_box|></answer>")
        return chat_reply("<think>The first frame is green, then", "length")

    with StubServer(reply) as server:
        got = _collect(EndpointModel(EndpointConfig(server.url, "glm")), [_video_record("v1")], media, budget=8)
    first, second = server.requests
    assert second.body["media_io_kwargs"] == first.body["media_io_kwargs"]
    assert second.body["messages"][0] == first.body["messages"][0]  # the same video part
    assert got["v1"].info["video_via"] == "video" and got["v1"].info["forced"]


def test_images_only_records_send_no_video_fields(media):
    rec = Record("i1", "vqa", [{"role": "user", "content": [{"type": "image", "image": "red.png"}]}], "red")
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        got = _collect(EndpointModel(EndpointConfig(server.url, "glm")), [rec], media)
    assert "media_io_kwargs" not in server.requests[0].body and "video_via" not in got["i1"].info


def test_video_via_is_checked():
    with pytest.raises(ValueError, match="video_via"):
        EndpointConfig("http://127.0.0.1:9/v1", "m", video_via="gif")
