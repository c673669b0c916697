"""thinkvl.overlap: two jobs at once in two processes, the cores split between them."""

from __future__ import annotations

import os
from functools import partial

import pytest
import torch

from thinkvl.overlap import run_side_by_side, split_threads


@pytest.mark.parametrize(("total", "expected"), [(1, (1, 1)), (2, (1, 1)), (3, (2, 1)), (8, (4, 4))])
def test_the_cores_are_split_with_at_least_one_thread_each(total: int, expected: tuple[int, int]):
    assert split_threads(total) == expected


def test_both_results_come_back_from_two_other_processes_each_on_its_share_of_threads():
    before = torch.get_num_threads()
    first, second, first_s, second_s = run_side_by_side(_pid_and_threads, partial(_pid_and_threads))
    assert (first[1], second[1]) == split_threads(before)
    assert len({first[0], second[0], os.getpid()}) == 3
    assert first_s >= 0 and second_s >= 0
    assert torch.get_num_threads() == before  # the caller's process untouched


def test_an_error_in_either_job_is_raised_here():
    with pytest.raises(ValueError, match="invalid literal"):
        run_side_by_side(_pid_and_threads, partial(int, "not a number"))
    with pytest.raises(ValueError, match="invalid literal"):
        run_side_by_side(partial(int, "not a number"), _pid_and_threads)


def _pid_and_threads() -> tuple[int, int]:
    return os.getpid(), torch.get_num_threads()
