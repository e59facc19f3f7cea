"""Tests of the model-merging benchmark (task vectors on digits) behind the MAP study."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from nas.benchmarks.functions import BenchmarkInputError
from nas.benchmarks.merging import (
    MERGE_HIGH,
    MERGE_LOW,
    TASK_CLASSES,
    coefficient_grid,
    merge_accuracies,
    merge_objective,
    merge_objective_names,
    merge_setup,
    merge_space,
)
from nas.pareto import pareto_mask
from nas.space import SearchSpace

N_PARAMS = 32 * 64 + 32 + 10 * 32 + 10


def _trial(**params: Any) -> Any:
    return SimpleNamespace(params=params, budget=None, number=0, report=lambda *a: None)


@pytest.mark.parametrize("n_tasks", [2, 3])
def test_task_vectors_shapes_and_masks(n_tasks: int) -> None:
    setup = merge_setup(n_tasks)
    assert setup.base.shape == (N_PARAMS,) and setup.base.dtype == np.float64
    assert setup.task_vectors.shape == (n_tasks, N_PARAMS)
    assert setup.task_masks.shape == (n_tasks, setup.y_val.shape[0])
    # Tasks partition the validation set by class.
    assert (setup.task_masks.sum(axis=0) == 1).all()
    for t, classes in enumerate(TASK_CLASSES[n_tasks]):
        assert set(np.unique(setup.y_val[setup.task_masks[t]])) == set(classes)
    assert np.abs(setup.task_vectors).max(axis=1).min() > 0  # every fine-tune moved
    assert setup.objective_names == merge_objective_names(n_tasks)
    with pytest.raises(ValueError, match="read-only"):
        setup.base[0] = 1.0


@pytest.mark.parametrize("n_tasks", [2, 3])
def test_zero_coefficients_give_the_base_model(n_tasks: int) -> None:
    setup = merge_setup(n_tasks)
    acc = merge_accuracies(np.zeros(n_tasks))[0]
    np.testing.assert_array_equal(acc, setup.base_accuracy)


@pytest.mark.parametrize("n_tasks", [2, 3])
def test_unit_coefficient_gives_the_fine_tuned_model(n_tasks: int) -> None:
    setup = merge_setup(n_tasks)
    acc = merge_accuracies(np.eye(n_tasks))
    np.testing.assert_array_equal(acc, setup.finetuned_accuracy)


def test_fine_tuning_creates_a_trade_off() -> None:
    setup = merge_setup(2)
    base, tuned = setup.base_accuracy, setup.finetuned_accuracy
    for t in range(2):
        assert tuned[t, t] > base[t] + 0.02  # own task improves
        assert tuned[t, 1 - t] < base[1 - t] - 0.1  # the other task is forgotten
    grid = coefficient_grid(21)
    front = merge_accuracies(grid)
    front = np.unique(front[pareto_mask(-front)], axis=0)
    assert len(front) >= 8  # a real front, not a single best merge
    assert front[:, 0].max() - front[:, 0].min() > 0.1


def test_training_is_deterministic_and_seeded() -> None:
    first = merge_setup.__wrapped__(2, 0)
    second = merge_setup.__wrapped__(2, 0)
    np.testing.assert_array_equal(first.base, second.base)
    np.testing.assert_array_equal(first.task_vectors, second.task_vectors)
    other = merge_setup.__wrapped__(2, 1)
    assert not np.array_equal(first.base, other.base)


def test_training_leaves_torch_global_state_alone() -> None:
    rng_state = torch.random.get_rng_state().clone()
    threads = torch.get_num_threads()
    merge_setup.__wrapped__(3, 5)
    merge_accuracies([0.3, 0.4, 0.5])
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads


def test_training_and_evaluation_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operation counts, not seconds (benchmarks time): training takes exactly the recipe's
    minibatch steps (10 epochs of 300 images, then 5 epochs of each task's images, batches of
    32), and evaluating merges trains nothing and reuses the cached models."""
    import nas.benchmarks.merging as merging
    from nas.benchmarks.digits import load_digits_split

    grads = 0
    real_grad = torch.autograd.grad

    def counting_grad(*args: Any, **kwargs: Any) -> Any:
        nonlocal grads
        grads += 1
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    merge_setup.__wrapped__(2, 7)
    y_train = np.asarray(load_digits_split()[2])
    per_task = [int(np.isin(y_train, cls).sum()) for cls in TASK_CLASSES[2]]
    expected = 10 * -(-300 // 32) + sum(5 * -(-n // 32) for n in per_task)
    assert grads == expected
    merge_setup(2)  # the objective's models, trained once
    misses = merge_setup.cache_info().misses
    grads = 0
    evaluations = 0
    real_eval = merging._accuracies_of_params

    def counting_eval(*args: Any, **kwargs: Any) -> Any:
        nonlocal evaluations
        evaluations += 1
        return real_eval(*args, **kwargs)

    monkeypatch.setattr(merging, "_accuracies_of_params", counting_eval)
    for c in np.linspace(0, 1.5, 11):
        merge_objective(_trial(c0=float(c), c1=0.5))
    assert grads == 0 and merge_setup.cache_info().misses == misses
    assert evaluations == 11  # one vectorised evaluation per merge


def test_batch_equals_single_evaluations() -> None:
    grid = coefficient_grid(5)
    batch = merge_accuracies(grid)
    single = np.array([merge_accuracies(c)[0] for c in grid])
    np.testing.assert_array_equal(batch, single)
    assert ((batch >= 0) & (batch <= 1)).all()


def test_merge_objective_returns_per_task_accuracies() -> None:
    out = merge_objective(_trial(c0=0.4, c1=1.1))
    assert list(out) == ["acc_task0", "acc_task1"]
    np.testing.assert_array_equal(list(out.values()), merge_accuracies([0.4, 1.1])[0])
    out3 = merge_objective(_trial(c0=0.4, c1=1.1, c2=0.0))
    assert list(out3) == ["acc_task0", "acc_task1", "acc_task2"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"c0": 0.5}, "expected coefficients"),
        ({"c0": 0.5, "c1": 1.6}, r"\[0.0, 1.5\]"),
        ({"c0": -0.1, "c1": 0.2}, r"\[0.0, 1.5\]"),
        ({"c0": True, "c1": 0.2}, "real number"),
        ({"c0": 0.1, "c1": 0.2, "c3": 0.1}, "expected coefficients"),
    ],
)
def test_merge_objective_rejects_bad_params(params: dict[str, Any], match: str) -> None:
    with pytest.raises(BenchmarkInputError, match=match):
        merge_objective(_trial(**params))


def test_bad_arguments() -> None:
    with pytest.raises(BenchmarkInputError, match="n_tasks"):
        merge_setup(4)
    with pytest.raises(BenchmarkInputError, match="shape"):
        merge_accuracies(np.zeros((3, 2)), n_tasks=3)
    with pytest.raises(BenchmarkInputError, match="finite"):
        merge_accuracies([np.nan, 0.0])
    with pytest.raises(BenchmarkInputError, match="points_per_axis"):
        coefficient_grid(1)


def test_space_and_grid() -> None:
    space = SearchSpace.from_dict(merge_space(3))
    assert space.names == ("c0", "c1", "c2")
    grid = coefficient_grid(4, 3)
    assert grid.shape == (64, 3)
    assert grid.min() == MERGE_LOW and grid.max() == MERGE_HIGH
    assert len(np.unique(grid, axis=0)) == 64
