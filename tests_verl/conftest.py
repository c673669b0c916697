"""Fixtures for the verl plug-in tests (run in .venv-verl: `bash scripts/test_verl.sh`)."""

from __future__ import annotations

import pytest

from thinkvl.model import tokens as T


@pytest.fixture(scope="session")
def tokenizer():
    """thinkvl's tiny tokenizer, with the chat template of its processor (verl renders prompts with it)."""
    from thinkvl.model.processor import CHAT_TEMPLATE
    from thinkvl.model.tokenizer import build_tokenizer

    tok = build_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _respond(answer: str, thought: str = "count them") -> str:
    box = f"{T.BOX_OPEN}{answer}{T.BOX_CLOSE}"
    return f"{T.THINK_OPEN}{thought}{T.THINK_CLOSE}{T.ANSWER_OPEN}The answer is {box}{T.ANSWER_CLOSE}"


@pytest.fixture(scope="session")
def respond():
    """A response in the exact thinking format with ``answer`` in the box."""
    return _respond


@pytest.fixture(scope="module")
def transfer_queue():
    """A real TransferQueue on a local Ray instance. On 2 cores `tq.init()` hangs unless Ray is given more CPUs
    than the machine has (its actors each reserve one)."""
    import ray
    import transfer_queue as tq

    ray.init(num_cpus=8, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    tq.init()
    yield tq
    tq.close()
    ray.shutdown()
