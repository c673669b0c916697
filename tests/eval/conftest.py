"""Fixtures for the evaluation tests: small datasets in each benchmark's real schema, built offline.

Static fixtures (JSON, JSONL, TSV) live in fixtures/; Hub snapshots (parquet with image structs) are written here
from rows with the datasets' own column names, and pixels, videos and PDFs are synthesised, since the benchmarks'
media are not redistributable.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from thinkvl.data.record import Record
from thinkvl.model.chat import format_response

FIXTURES = Path(__file__).parent / "fixtures"


def png(color: str | tuple[int, int, int] = "red", size: tuple[int, int] = (16, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_struct(color: str = "red", name: str = "x.png", size: tuple[int, int] = (16, 12)) -> dict[str, Any]:
    """An HF ``Image`` feature as stored in parquet."""
    return {"bytes": png(color, size), "path": name}


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def add_images(root: Path, rels: list[str], color: str = "blue") -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(png(color))


def make_video(path: Path, frames: int = 16, fps: int = 8, size: tuple[int, int] = (32, 32)) -> Path:
    """A tiny H.264 MP4 whose frame k is a flat grey of level 10*k (so frames are told apart)."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for k in range(frames):
            arr = np.full((size[1], size[0], 3), 10 * k, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the static fixtures (one folder per benchmark)."""
    target = tmp_path / "data"
    shutil.copytree(FIXTURES, target)
    return target


def box_of(record: Record) -> str:
    """The ground truth written the way a model puts it in the box."""
    answer = record.answer
    if record.domain == "grounding":
        return "[" + ", ".join(f"{v:g}" for v in answer) + "]"
    if isinstance(answer, list):
        return str(answer[0])
    return str(answer)


def respond(box: str) -> str:
    return format_response("Let me think.", "The answer is", box)


def half_right(records: list[Record], root: Path, budget: int | None) -> list[str]:
    """Deterministic fake model: right on items whose id ends in an even character code, wrong otherwise."""
    return [respond(box_of(r)) if ord(r.id[-1]) % 2 == 0 else respond("zzz") for r in records]


def always_right(records: list[Record], root: Path, budget: int | None) -> list[str]:
    return [respond(box_of(r)) for r in records]


@pytest.fixture(scope="session")
def kit() -> Any:
    """The helpers above, for tests (conftest modules can't be imported under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        png=png,
        image_struct=image_struct,
        write_parquet=write_parquet,
        add_images=add_images,
        make_video=make_video,
        box_of=box_of,
        respond=respond,
        half_right=half_right,
        always_right=always_right,
        fixtures=FIXTURES,
    )


@pytest.fixture
def reward_config() -> Any:
    """The packaged reward config, scored in-process (no worker start-up in unit tests)."""
    from thinkvl.reward import RewardConfig

    config = RewardConfig.from_yaml()
    config.limits.isolation = "none"
    return config
