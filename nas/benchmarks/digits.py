"""The quick-start objective: a two-objective MLP search on scikit-learn's ``digits`` data set.

:func:`digits_mlp` trains a :class:`sklearn.neural_network.MLPClassifier` on the 8x8 handwritten
digits shipped inside scikit-learn (1797 images, 64 features, 10 classes; nothing is
downloaded) and returns its validation error rate and its number of weights, both to minimize.
The search space is :data:`DIGITS_MLP_SPACE`, also written as ``search_spaces/digits_mlp.yaml``.

The objective is deterministic: the split is fixed (stratified 75/25, ``random_state=0``), the
model's initialisation and shuffling come from the ``seed`` parameter, and BLAS runs on one
thread while training, so the same params and budget always give the same values (exact resume
relies on this).

scikit-learn is imported lazily so that importing :mod:`nas.benchmarks` stays cheap.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from nas.benchmarks.functions import BenchmarkInputError, BenchmarkTrial

__all__ = [
    "DIGITS_MLP_DIRECTIONS",
    "DIGITS_MLP_SPACE",
    "DIGITS_N_CLASSES",
    "DIGITS_N_FEATURES",
    "MAX_EPOCHS",
    "REPORT_EVERY",
    "DigitsSplit",
    "digits_mlp",
    "digits_mlp_epochs",
    "load_digits_split",
    "mlp_n_params",
]

#: Epochs of a full-budget trial; a trial with budget ``b`` trains ``max(1, round(60 b))``.
MAX_EPOCHS = 60
#: Intermediate values are reported every this many epochs, and after the last epoch.
REPORT_EVERY = 5
#: Inputs per image (8x8 pixels) and classes of the digits data set.
DIGITS_N_FEATURES = 64
DIGITS_N_CLASSES = 10
_MAX_LAYERS = 3
_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")

#: ``(X_train, X_val, y_train, y_val)``: standardized float64 inputs of shapes ``(1347, 64)``
#: and ``(450, 64)``, integer labels of shapes ``(1347,)`` and ``(450,)``; all read-only.
DigitsSplit: TypeAlias = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]


def _width(name: str) -> dict[str, Any]:
    layer = int(name.rsplit("_", 1)[1])
    spec: dict[str, Any] = {"type": "int", "low": 8, "high": 256, "log": True}
    if layer > 1:
        spec["condition"] = {"parent": "n_layers", "in": list(range(layer, _MAX_LAYERS + 1))}
    return spec


#: The search space of :func:`digits_mlp` in the YAML shape (``search_spaces/digits_mlp.yaml``).
DIGITS_MLP_SPACE: dict[str, Any] = {
    "params": {
        "n_layers": {"type": "int", "low": 1, "high": _MAX_LAYERS},
        "width_1": _width("width_1"),
        "width_2": _width("width_2"),
        "width_3": _width("width_3"),
        "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
        "learning_rate_init": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
        "batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        "seed": {"type": "fixed", "value": 0},
    }
}

#: Objectives returned by :func:`digits_mlp`.
DIGITS_MLP_DIRECTIONS: dict[str, str] = {"error": "minimize", "n_params": "minimize"}


@functools.lru_cache(maxsize=1)
def load_digits_split() -> DigitsSplit:
    """Load scikit-learn's digits, split it stratified 75/25 (``random_state=0``), standardize.

    The scaler is fit on the training part only. The result is cached for the process and its
    arrays are read-only.

    Returns:
        ``(X_train, X_val, y_train, y_val)`` as described by :data:`DigitsSplit`.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    arrays = (
        np.ascontiguousarray(scaler.transform(x_train), dtype=np.float64),
        np.ascontiguousarray(scaler.transform(x_val), dtype=np.float64),
        np.ascontiguousarray(y_train, dtype=np.int64),
        np.ascontiguousarray(y_val, dtype=np.int64),
    )
    for a in arrays:
        a.flags.writeable = False
    return arrays


def mlp_n_params(
    widths: Sequence[int],
    n_inputs: int = DIGITS_N_FEATURES,
    n_outputs: int = DIGITS_N_CLASSES,
) -> int:
    """Number of weights plus biases of a fully connected network.

    ``sum over consecutive layer sizes (a, b) of a*b + b`` with sizes
    ``[n_inputs, *widths, n_outputs]``; e.g. ``64*w1 + w1 + w1*10 + 10`` for one hidden layer.

    Args:
        widths: hidden layer widths, each >= 1 (may be empty).
        n_inputs: input features.
        n_outputs: output units.

    Raises:
        BenchmarkInputError: a size below 1.
    """
    sizes = [n_inputs, *widths, n_outputs]
    if any(int(s) < 1 for s in sizes):
        raise BenchmarkInputError(f"layer sizes must all be >= 1, got {sizes}")
    return sum(int(a) * int(b) + int(b) for a, b in itertools.pairwise(sizes))


def digits_mlp_epochs(budget: float | None) -> int:
    """Epochs trained at ``budget``: ``max(1, round(MAX_EPOCHS * budget))``, 60 for ``None``.

    Raises:
        BenchmarkInputError: ``budget`` is not a real number in ``(0, 1]``.
    """
    if budget is None:
        return MAX_EPOCHS
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise BenchmarkInputError(
            f"budget must be a real number in (0, 1] or None, got {budget!r}"
        )
    b = float(budget)
    if not (0.0 < b <= 1.0):
        raise BenchmarkInputError(f"budget must lie in (0, 1] (fraction of 60 epochs), got {b}")
    return max(1, round(MAX_EPOCHS * b))


def _int_param(params: Mapping[str, Any], name: str, low: int, high: int | None) -> int:
    """An integer parameter (an integral float is accepted) within ``[low, high]``."""
    if name not in params:
        raise BenchmarkInputError(f"digits_mlp: missing parameter {name!r}; got {sorted(params)}")
    value = params[name]
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, numbers.Integral):
        ok = True
    else:
        ok = isinstance(value, numbers.Real) and float(value).is_integer()
    bound = f"[{low}, {high}]" if high is not None else f">= {low}"
    if not ok or not (low <= int(value) and (high is None or int(value) <= high)):
        raise BenchmarkInputError(
            f"digits_mlp: parameter {name!r} must be an integer {bound}, got {value!r}"
        )
    return int(value)


def _positive_param(params: Mapping[str, Any], name: str) -> float:
    """A finite, strictly positive real parameter."""
    if name not in params:
        raise BenchmarkInputError(f"digits_mlp: missing parameter {name!r}; got {sorted(params)}")
    value = params[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or float(value) <= 0.0
    ):
        raise BenchmarkInputError(
            f"digits_mlp: parameter {name!r} must be a finite number > 0, got {value!r}"
        )
    return float(value)


def digits_mlp(trial: BenchmarkTrial) -> dict[str, float]:
    """Train an MLP on the digits split and return its validation error and size.

    Reads from ``trial.params``: ``n_layers`` (1..3), ``width_1`` .. ``width_{n_layers}``
    (hidden widths; inactive widths are ignored), ``activation`` (``"relu"``/``"tanh"``; any
    MLPClassifier activation is accepted), ``learning_rate_init`` and ``alpha`` (L2 penalty),
    both > 0, ``batch_size`` (int >= 1), and ``seed`` (int >= 0, default 0 when absent), which
    fixes the weight initialisation and the shuffling.

    Trains with Adam for :func:`digits_mlp_epochs` ``(trial.budget)`` epochs (60 at full
    budget; no early stopping) on the standardized training part, reporting
    ``{"error": ..., "n_params": ...}`` through ``trial.report(epoch, ...)`` every
    :data:`REPORT_EVERY` epochs and after the last one. The first ``k`` epochs of a longer run are
    exactly a ``k``-epoch run, so learning curves at different budgets agree.

    Takes about 0.2 s (small nets) to 4 s (three 256-wide layers, batch 32) on one core.

    Returns:
        ``{"error": fraction of misclassified validation images in [0, 1],
        "n_params": weights + biases of the network (:func:`mlp_n_params`)}``.

    Raises:
        BenchmarkInputError: a parameter is missing or out of range, or the budget is outside
            ``(0, 1]``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    params = trial.params
    n_layers = _int_param(params, "n_layers", 1, _MAX_LAYERS)
    widths = [_int_param(params, f"width_{i}", 1, None) for i in range(1, n_layers + 1)]
    activation = params.get("activation")
    if activation not in _ACTIVATIONS:
        raise BenchmarkInputError(
            f"digits_mlp: parameter 'activation' must be one of {list(_ACTIVATIONS)}, "
            f"got {activation!r}"
        )
    learning_rate = _positive_param(params, "learning_rate_init")
    alpha = _positive_param(params, "alpha")
    batch_size = _int_param(params, "batch_size", 1, None)
    seed = _int_param({"seed": 0, **params}, "seed", 0, 2**32 - 1)
    epochs = digits_mlp_epochs(trial.budget)

    x_train, x_val, y_train, y_val = load_digits_split()
    n_params = float(mlp_n_params(widths))
    classes = np.arange(DIGITS_N_CLASSES)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(widths),
        activation=activation,
        solver="adam",
        alpha=alpha,
        batch_size=batch_size,
        learning_rate_init=learning_rate,
        max_iter=epochs,
        shuffle=True,
        # A RandomState instance (not an int) so that successive partial_fit calls continue one
        # stream of shuffles instead of restarting it every epoch.
        random_state=np.random.RandomState(seed),
        early_stopping=False,
    )
    error = 1.0
    # One BLAS thread: parallel workers do not oversubscribe the cores, and the float results
    # do not depend on how many threads the BLAS library would have picked.
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, epochs + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            if epoch % REPORT_EVERY == 0 or epoch == epochs:
                error = float(np.mean(model.predict(x_val) != y_val))
                trial.report(epoch, {"error": error, "n_params": n_params})
    return {"error": error, "n_params": n_params}
