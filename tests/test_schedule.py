"""The learning-rate schedule at known steps (docs/paper.md: 2 + 1 + (1 + 2 + 4) epochs)."""

import math

import pytest

from galcnn.cnn.schedule import CONSTANT, SGDR, STAGE1, Schedule

PAPER = {
    "stage1": {"epochs": 2, "lr": 0.1},
    "stage2": {
        "lrs": [1e-3, 1e-2, 1e-1],
        "epochs": 1,
        "cycles": 3,
        "cycle_len": 1,
        "cycle_mult": 2,
    },
}
STEPS = 10


@pytest.fixture
def paper():
    return Schedule.from_settings(PAPER, STEPS)


def test_paper_schedule_has_ten_epochs_in_three_phases(paper):
    assert paper.n_epochs == 10
    assert [paper.phase(e) for e in range(10)] == [STAGE1] * 2 + [CONSTANT] + [SGDR] * 7
    assert [paper.stage(e) for e in range(10)] == [1, 1] + [2] * 8
    assert [e for e in range(10) if paper.phase_starts(e)] == [0, 2, 3]


def test_cycles_last_one_two_four_epochs(paper):
    assert paper.cycle_epochs == [1, 2, 4]
    assert paper.cycle_bounds() == [(30, 10), (40, 20), (60, 40)]


def test_stage1_head_only_and_constant_stage2(paper):
    assert paper.lrs_at(0) == [0.0, 0.0, 0.1]
    assert paper.lrs_at(19) == [0.0, 0.0, 0.1]
    assert paper.lrs_at(20) == [1e-3, 1e-2, 1e-1]
    assert paper.lrs_at(29) == [1e-3, 1e-2, 1e-1]


def test_each_cycle_starts_at_max_and_anneals_towards_zero(paper):
    for first, length in paper.cycle_bounds():
        assert paper.lrs_at(first) == pytest.approx([1e-3, 1e-2, 1e-1])
        end = paper.lrs_at(first + length - 1)
        assert end[2] == pytest.approx(0.05 * (1 + math.cos(math.pi * (length - 1) / length)))
        assert end[2] < 0.003
        mid = paper.lrs_at(first + length // 2)
        assert mid == pytest.approx([5e-4, 5e-3, 5e-2])
        # monotone within the cycle, restart right after it
        lrs = [paper.lrs_at(s)[2] for s in range(first, first + length)]
        assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert paper.lrs_at(paper.n_steps - 1)[2] < 0.001
    with pytest.raises(ValueError, match="outside"):
        paper.lrs_at(paper.n_steps)


def test_empty_schedule_is_refused():
    empty = {
        "stage1": {"epochs": 0, "lr": 0.1},
        "stage2": {**PAPER["stage2"], "epochs": 0, "cycles": 0},
    }
    with pytest.raises(ValueError, match="no epochs"):
        Schedule.from_settings(empty, 5)


def test_fastai_warmup_holds_the_first_steps_of_the_first_cycle_at_a_hundredth():
    # fastai 0.7 CosAnneal: iteration < nb/20 -> lr/100, the cosine's clock running on.
    warm = Schedule.from_settings({**PAPER, "stage2": {**PAPER["stage2"], "warmup": 0.05}}, 40)
    (first, length), *later = warm.cycle_bounds()
    assert length == 40 and warm.lrs_at(first) == pytest.approx([1e-5, 1e-4, 1e-3])
    assert warm.lrs_at(first + 1) == pytest.approx([1e-5, 1e-4, 1e-3])
    cosine = 0.5 * (1 + math.cos(math.pi * 2 / 40))
    assert warm.lrs_at(first + 2) == pytest.approx([1e-3 * cosine, 1e-2 * cosine, 1e-1 * cosine])
    for start, _ in later:  # later cycles restart at the full rates
        assert warm.lrs_at(start) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert warm.lrs_at(first - 1) == pytest.approx([1e-3, 1e-2, 1e-1])  # the constant epoch before
    with pytest.raises(ValueError, match="warmup"):
        Schedule.from_settings({**PAPER, "stage2": {**PAPER["stage2"], "warmup": 1.0}}, 40)
