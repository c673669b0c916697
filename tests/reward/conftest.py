"""Shared fixtures of the reward tests: response builders, in-process and process-isolated systems, data path."""

from __future__ import annotations

import pytest

from thinkvl.reward import RewardSystem


def make_response(box: str | None, thinking: str = "Let me work it out.", text: str = "The answer is") -> str:
    boxed = f" <|begin_of_box|>{box}<|end_of_box|>" if box is not None else ""
    return f"<think>{thinking}</think><answer>{text}{boxed}</answer>"


@pytest.fixture(scope="session")
def respond():
    """Build a well-formed response around a box: ``respond("4")``."""
    return make_response


@pytest.fixture(scope="session")
def inproc() -> RewardSystem:
    """Default config, scoring in this process (fast; no hard time limit)."""
    return RewardSystem({"limits": {"isolation": "none"}})


@pytest.fixture(scope="session")
def isolated():
    """Default config, scoring in worker processes under the hard time limit."""
    rs = RewardSystem()
    yield rs
    rs.close()
