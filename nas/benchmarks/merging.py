"""Model merging on scikit-learn's digits: the use case of Pareto/MAP (Li et al., 2024).

A small MLP (64 -> 32 ReLU -> 10, float64) is trained on all ten digit classes (the *base*
model ``theta_base``), then one copy per task is fine-tuned on the training images of that
task's classes only (the *fine-tuned* models ``theta_t``). The task vectors are
``tau_t = theta_t - theta_base`` and a merge with scaling coefficients ``c`` is

    theta(c) = theta_base + sum_t c_t * tau_t.

Each merge is scored by its **per-task validation accuracy**: the accuracy of the shared
10-way head (argmax over all ten logits, *no* masking) on the validation images of that task's
classes. Fine-tuning on one task's classes only teaches the head to favour them, so the task
vectors conflict: raising ``c_0`` helps task 0 and hurts task 1. The Pareto front of the
accuracies over ``c`` is what MAP approximates.

Tasks: ``T = 2`` splits the digits into ``0-4`` and ``5-9``; ``T = 3`` into ``0-3``, ``4-6``
and ``7-9``. The coefficients range over ``[0, 1.5]`` (:data:`MERGE_LOW`,
:data:`MERGE_HIGH`): papers.md §4 advises clamping MAP to the fitted box instead of the code's
``[-3, 3]``, and 1.5 leaves room for the usual task-arithmetic over-scaling.

Training (:func:`merge_setup`) happens on the first call in a process and is cached with
:func:`functools.lru_cache`. It is deterministic: every random choice (initial weights, the
base model's training subset, minibatch orders) comes from a ``torch.Generator`` seeded from
``seed``, the data split is the fixed one of :func:`nas.benchmarks.digits.load_digits_split`,
and torch runs on one thread while training and evaluating, so two runs (in one process or in
two) give bit-identical weights and accuracies. It takes about a second on one core;
evaluating one merge takes well under a millisecond, a 21 x 21 grid about 20 ms.

The global torch RNG is never used.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nas.benchmarks.digits import DIGITS_N_CLASSES, DIGITS_N_FEATURES, load_digits_split
from nas.benchmarks.functions import BenchmarkInputError, BenchmarkTrial

__all__ = [
    "HIDDEN_UNITS",
    "MERGE_HIGH",
    "MERGE_LOW",
    "TASK_CLASSES",
    "MergeSetup",
    "coefficient_grid",
    "merge_accuracies",
    "merge_objective",
    "merge_objective_names",
    "merge_setup",
    "merge_space",
]

#: Bounds of every scaling coefficient ``c_t``.
MERGE_LOW = 0.0
MERGE_HIGH = 1.5
#: Hidden units of the MLP.
HIDDEN_UNITS = 32
#: The classes of each task, per supported task count.
TASK_CLASSES: dict[int, tuple[tuple[int, ...], ...]] = {
    2: ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    3: ((0, 1, 2, 3), (4, 5, 6), (7, 8, 9)),
}

# Training recipe (SGD with momentum 0.9, minibatches of 32, float64).
_BASE_SUBSET = 300  # training images the base model sees (a weak-ish base leaves room to merge)
_BASE_EPOCHS = 10
_FINETUNE_EPOCHS = 5
_LR = 0.05
_MOMENTUM = 0.9
_BATCH = 32
_EVAL_CHUNK = 128  # merges evaluated per batched forward pass

_THREADS_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread (deterministic reductions), then restore the setting."""
    import torch

    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


@dataclass(frozen=True, eq=False)
class MergeSetup:
    """The trained models of one ``(n_tasks, seed)`` and the validation data.

    The parameters of the MLP are flattened in the order ``W1 (32, 64), b1 (32,), W2 (10, 32),
    b2 (10,)`` into vectors of length ``P = 2410``.

    Attributes:
        n_tasks: ``T``, 2 or 3.
        seed: the training seed.
        task_classes: ``T`` tuples of digit classes.
        base: ``(P,)`` float64 parameters of the base model (read-only).
        task_vectors: ``(T, P)`` float64, row ``t`` is ``theta_t - theta_base`` (read-only).
        x_val: ``(450, 64)`` standardized validation images (read-only).
        y_val: ``(450,)`` int64 labels (read-only).
        task_masks: ``(T, 450)`` bool, row ``t`` selects the validation images of task ``t``.
        base_accuracy: ``(T,)`` per-task accuracies of the base model.
        finetuned_accuracy: ``(T, T)``, row ``s`` holds the per-task accuracies of the model
            fine-tuned on task ``s``.
        train_seconds: wall time the training took.
    """

    n_tasks: int
    seed: int
    task_classes: tuple[tuple[int, ...], ...]
    base: npt.NDArray[np.float64]
    task_vectors: npt.NDArray[np.float64]
    x_val: npt.NDArray[np.float64]
    y_val: npt.NDArray[np.int64]
    task_masks: npt.NDArray[np.bool_]
    base_accuracy: npt.NDArray[np.float64]
    finetuned_accuracy: npt.NDArray[np.float64]
    train_seconds: float

    @property
    def objective_names(self) -> tuple[str, ...]:
        """``("acc_task0", ..., "acc_task{T-1}")``."""
        return merge_objective_names(self.n_tasks)

    def accuracies(self, coefs: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Per-task validation accuracies of merges; see :func:`merge_accuracies`."""
        c = _check_coefs(coefs, self.n_tasks)
        return _accuracies(self, c)


def merge_objective_names(n_tasks: int = 2) -> tuple[str, ...]:
    """The objective names of a ``n_tasks``-task merge, ``acc_task0`` ... (all maximized).

    Raises:
        BenchmarkInputError: ``n_tasks`` is not 2 or 3.
    """
    _check_n_tasks(n_tasks)
    return tuple(f"acc_task{t}" for t in range(n_tasks))


def merge_space(n_tasks: int = 2) -> dict[str, Any]:
    """The search space of :func:`merge_objective` in the YAML shape: ``c0 .. c{T-1}`` floats
    in ``[MERGE_LOW, MERGE_HIGH]``.

    Raises:
        BenchmarkInputError: ``n_tasks`` is not 2 or 3.
    """
    _check_n_tasks(n_tasks)
    return {
        "params": {
            f"c{t}": {"type": "float", "low": MERGE_LOW, "high": MERGE_HIGH}
            for t in range(n_tasks)
        }
    }


def coefficient_grid(points_per_axis: int = 21, n_tasks: int = 2) -> npt.NDArray[np.float64]:
    """The regular grid over ``[MERGE_LOW, MERGE_HIGH]^T`` used as ground truth.

    Returns:
        ``(points_per_axis ** n_tasks, n_tasks)`` coefficients, the last column varying fastest.

    Raises:
        BenchmarkInputError: ``points_per_axis < 2`` or ``n_tasks`` not 2 or 3.
    """
    _check_n_tasks(n_tasks)
    if isinstance(points_per_axis, bool) or not isinstance(points_per_axis, numbers.Integral):
        raise BenchmarkInputError(f"points_per_axis must be an int >= 2, got {points_per_axis!r}")
    if points_per_axis < 2:
        raise BenchmarkInputError(f"points_per_axis must be >= 2, got {points_per_axis}")
    axis = np.linspace(MERGE_LOW, MERGE_HIGH, int(points_per_axis))
    mesh = np.meshgrid(*([axis] * n_tasks), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


@functools.lru_cache(maxsize=4)
def merge_setup(n_tasks: int = 2, seed: int = 0) -> MergeSetup:
    """Train the base and the fine-tuned models (cached per process).

    Recipe: weights ``N(0, 1/fan_in)``, biases 0; the base model trains for 10 epochs on 300
    training images drawn at random from all classes; each fine-tuned copy trains for 5 epochs
    on *all* training images of its task's classes with the full 10-way cross-entropy. SGD,
    learning rate 0.05, momentum 0.9, minibatches of 32, float64, one torch thread.

    Args:
        n_tasks: 2 or 3 (see :data:`TASK_CLASSES`).
        seed: seeds the ``torch.Generator`` behind every random choice.

    Returns:
        The :class:`MergeSetup`; identical (bitwise) for identical arguments, in any process.

    Raises:
        BenchmarkInputError: ``n_tasks`` is not 2 or 3, or ``seed`` is not an int.
    """
    _check_n_tasks(n_tasks)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise BenchmarkInputError(f"seed must be an int, got {seed!r}")
    import torch

    start = time.perf_counter()
    x_train, x_val, y_train, y_val = load_digits_split()
    classes = TASK_CLASSES[n_tasks]
    with _one_torch_thread():
        gen = torch.Generator().manual_seed(int(seed))
        xt = torch.from_numpy(np.array(x_train))
        yt = torch.from_numpy(np.array(y_train))
        base = _init_params(gen)
        subset = torch.randperm(xt.shape[0], generator=gen)[:_BASE_SUBSET]
        base = _train(base, xt[subset], yt[subset], _BASE_EPOCHS, gen)
        tuned = []
        for cls in classes:
            mask = torch.isin(yt, torch.tensor(cls))
            tuned.append(_train(base, xt[mask], yt[mask], _FINETUNE_EPOCHS, gen))
        base_flat = _flatten(base).numpy()
        tuned_flat = np.stack([_flatten(p).numpy() for p in tuned])
    task_vectors = tuned_flat - base_flat[None, :]
    y_val_arr = np.array(y_val, dtype=np.int64)
    masks = np.stack([np.isin(y_val_arr, cls) for cls in classes])
    setup = MergeSetup(
        n_tasks=n_tasks,
        seed=int(seed),
        task_classes=classes,
        base=base_flat,
        task_vectors=task_vectors,
        x_val=np.array(x_val, dtype=np.float64),
        y_val=y_val_arr,
        task_masks=masks,
        base_accuracy=np.zeros(n_tasks),
        finetuned_accuracy=np.zeros((n_tasks, n_tasks)),
        train_seconds=0.0,
    )
    base_acc = _accuracies_of_params(setup, base_flat[None, :])[0]
    tuned_acc = _accuracies_of_params(setup, tuned_flat)
    for arr in (base_flat, task_vectors, setup.x_val, y_val_arr, masks, base_acc, tuned_acc):
        arr.flags.writeable = False
    object.__setattr__(setup, "base_accuracy", base_acc)
    object.__setattr__(setup, "finetuned_accuracy", tuned_acc)
    object.__setattr__(setup, "train_seconds", time.perf_counter() - start)
    return setup


def merge_accuracies(
    coefs: npt.ArrayLike, n_tasks: int | None = None, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Per-task validation accuracies of many merges at once (no study machinery).

    Args:
        coefs: ``(G, T)`` or ``(T,)`` finite scaling coefficients (any real values; the
            benchmark's domain is ``[MERGE_LOW, MERGE_HIGH]``).
        n_tasks: ``T``; ``None`` takes it from the last axis of ``coefs``.
        seed: training seed of the models (see :func:`merge_setup`).

    Returns:
        ``(G, T)`` float64 accuracies in ``[0, 1]`` (``(1, T)`` for a single merge).

    Raises:
        BenchmarkInputError: ``coefs`` is not 1-D/2-D with ``T`` columns, is non-finite, or
            ``T`` is not 2 or 3.
    """
    arr = np.asarray(coefs, dtype=float)
    t = int(arr.shape[-1]) if n_tasks is None and arr.ndim >= 1 else n_tasks
    if t is None:
        raise BenchmarkInputError(f"coefs must be 1-D or 2-D, got shape {arr.shape}")
    c = _check_coefs(arr, t)
    return _accuracies(merge_setup(t, seed), c)


def merge_objective(trial: BenchmarkTrial) -> dict[str, float]:
    """Objective of the merge study: the per-task accuracies of ``theta(c)``.

    Reads ``trial.params["c0"]``, ``["c1"]`` (and ``["c2"]`` if present: three tasks); the
    models are those of :func:`merge_setup` with seed 0, trained on the first call.

    Returns:
        ``{"acc_task0": ..., "acc_task1": ...[, "acc_task2": ...]}``, to maximize.

    Raises:
        BenchmarkInputError: ``c0``/``c1`` missing, a coefficient outside
            ``[MERGE_LOW, MERGE_HIGH]`` or not a finite number, or unknown ``c*`` names.
    """
    params = trial.params
    names = sorted(k for k in params if k.startswith("c"))
    n_tasks = 3 if "c2" in params else 2
    expected = [f"c{t}" for t in range(n_tasks)]
    if names != expected:
        raise BenchmarkInputError(
            f"merge_objective: expected coefficients {expected}, got {names} in {dict(params)}"
        )
    coefs = [_coefficient(params, name) for name in expected]
    acc = merge_accuracies(np.array([coefs]), n_tasks=n_tasks)[0]
    return {name: float(a) for name, a in zip(merge_objective_names(n_tasks), acc, strict=True)}


# --------------------------------------------------------------------------- internals


def _check_n_tasks(n_tasks: object) -> None:
    if isinstance(n_tasks, bool) or n_tasks not in TASK_CLASSES:
        raise BenchmarkInputError(
            f"n_tasks must be one of {sorted(TASK_CLASSES)}, got {n_tasks!r}"
        )


def _check_coefs(coefs: npt.ArrayLike, n_tasks: int) -> npt.NDArray[np.float64]:
    _check_n_tasks(n_tasks)
    arr = np.asarray(coefs, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_tasks:
        raise BenchmarkInputError(
            f"coefs must have shape (G, {n_tasks}) or ({n_tasks},), got {np.shape(coefs)}"
        )
    if not np.isfinite(arr).all():
        raise BenchmarkInputError("coefs must be finite")
    return arr


def _coefficient(params: Mapping[str, Any], name: str) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BenchmarkInputError(f"merge_objective: {name} must be a real number, got {value!r}")
    x = float(value)
    if not (math.isfinite(x) and MERGE_LOW <= x <= MERGE_HIGH):
        raise BenchmarkInputError(
            f"merge_objective: {name} must lie in [{MERGE_LOW}, {MERGE_HIGH}], got {x!r}"
        )
    return x


def _shapes() -> tuple[tuple[int, ...], ...]:
    h = HIDDEN_UNITS
    return ((h, DIGITS_N_FEATURES), (h,), (DIGITS_N_CLASSES, h), (DIGITS_N_CLASSES,))


def _init_params(gen: Any) -> list[Any]:
    import torch

    h, d, k = HIDDEN_UNITS, DIGITS_N_FEATURES, DIGITS_N_CLASSES
    w1 = torch.randn(h, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    w2 = torch.randn(k, h, generator=gen, dtype=torch.float64) / math.sqrt(h)
    return [w1, torch.zeros(h, dtype=torch.float64), w2, torch.zeros(k, dtype=torch.float64)]


def _forward(params: list[Any], x: Any) -> Any:
    import torch

    w1, b1, w2, b2 = params
    return torch.relu(x @ w1.T + b1) @ w2.T + b2


def _train(params: list[Any], x: Any, y: Any, epochs: int, gen: Any) -> list[Any]:
    """Minibatch SGD with momentum from a copy of ``params``; returns detached tensors."""
    import torch

    # Plain SGD with momentum, PyTorch's convention (v <- mu v + g; p <- p - lr v), written out
    # to avoid torch.optim's import of the compiler stack (about a second on first use).
    p = [q.detach().clone().requires_grad_(True) for q in params]
    velocity = [torch.zeros_like(q) for q in p]
    n = int(x.shape[0])
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, _BATCH):
            idx = order[i : i + _BATCH]
            loss = torch.nn.functional.cross_entropy(_forward(p, x[idx]), y[idx])
            grads = torch.autograd.grad(loss, p)
            with torch.no_grad():
                for q, v, g in zip(p, velocity, grads, strict=True):
                    v.mul_(_MOMENTUM).add_(g)
                    q.sub_(_LR * v)
    return [q.detach() for q in p]


def _flatten(params: list[Any]) -> Any:
    import torch

    return torch.cat([q.reshape(-1) for q in params])


def _accuracies(setup: MergeSetup, coefs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``(G, T)`` accuracies of the merges ``base + coefs @ task_vectors``."""
    params = setup.base[None, :] + coefs @ setup.task_vectors
    return _accuracies_of_params(setup, params)


def _accuracies_of_params(
    setup: MergeSetup, flat: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``(G, T)`` per-task accuracies of ``G`` flat parameter vectors, batched, no grad."""
    import torch

    h, d, k = HIDDEN_UNITS, DIGITS_N_FEATURES, DIGITS_N_CLASSES
    x = torch.tensor(setup.x_val)  # copies: the arrays are read-only
    y = torch.tensor(setup.y_val)
    masks = torch.tensor(setup.task_masks, dtype=torch.float64)  # (T, N)
    counts = masks.sum(dim=1)  # (T,)
    out = np.empty((flat.shape[0], setup.n_tasks))
    sizes = [math.prod(s) for s in _shapes()]
    with _one_torch_thread(), torch.no_grad():
        for lo in range(0, flat.shape[0], _EVAL_CHUNK):
            chunk = torch.from_numpy(np.ascontiguousarray(flat[lo : lo + _EVAL_CHUNK]))
            g = chunk.shape[0]
            w1, b1, w2, b2 = torch.split(chunk, sizes, dim=1)
            hidden = torch.relu(
                torch.einsum("nd,ghd->gnh", x, w1.reshape(g, h, d)) + b1[:, None, :]
            )
            logits = torch.einsum("gnh,gkh->gnk", hidden, w2.reshape(g, k, h)) + b2[:, None, :]
            correct = (logits.argmax(dim=2) == y[None, :]).to(torch.float64)  # (g, N)
            out[lo : lo + g] = ((correct @ masks.T) / counts).numpy()
    return out
