"""thinkvl.overlap: a job in a second process beside one here, the cores split between them."""

from __future__ import annotations

import os
from functools import partial

import pytest
import torch

from thinkvl.overlap import run_beside, split_threads


@pytest.mark.parametrize(("total", "expected"), [(1, (1, 1)), (2, (1, 1)), (3, (2, 1)), (8, (4, 4))])
def test_the_cores_are_split_with_at_least_one_thread_each(total: int, expected: tuple[int, int]):
    assert split_threads(total) == expected


def test_both_results_come_back_and_the_job_beside_ran_elsewhere_on_its_share_of_threads():
    before = torch.get_num_threads()
    here, there = split_threads(before)
    main_threads, (child_pid, child_threads), seconds = run_beside(torch.get_num_threads, partial(_pid_and_threads))
    assert main_threads == here
    assert child_threads == there
    assert child_pid != os.getpid()
    assert seconds >= 0
    assert torch.get_num_threads() == before  # restored


def test_an_error_beside_is_raised_here_after_the_main_job_finishes():
    done = []
    with pytest.raises(ValueError, match="invalid literal"):
        run_beside(lambda: done.append(True), partial(int, "not a number"))
    assert done == [True]
    assert torch.get_num_threads() >= 1


def _pid_and_threads() -> tuple[int, int]:
    return os.getpid(), torch.get_num_threads()
