"""Building blocks shared by the evolutionary searchers: variation operators, selection, dedupe.

Everything here is a pure function of its arguments; randomness comes only from the
``numpy.random.Generator`` passed in, and every retry loop has a cap.

Mutation works in the *unit space* of a parameter (:meth:`nas.space.Param.to_unit`): a numeric
value moves by a Gaussian step of standard deviation ``sigma`` (a fraction of the parameter's
range, on the log scale for log parameters), reflected back into ``[0, 1]``; a categorical value
jumps to a different choice drawn uniformly; a fixed value never changes.
"""

from __future__ import annotations

import math
from collections.abc import Container, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import SearcherConfigError
from nas.space import assignment_key

if TYPE_CHECKING:
    from nas.space import Param, SearchSpace

__all__ = [
    "BinaryTournament",
    "Crossover",
    "GaussianMutation",
    "Mutation",
    "ParamsKey",
    "Selection",
    "UniformCrossover",
    "check_int_option",
    "check_probability_option",
    "check_sigma_option",
    "complete_with_values",
    "is_mutable",
    "mutable_names",
    "mutate_one",
    "mutate_value",
    "params_key",
    "rank_vector",
    "reflect_unit",
    "sample_unique",
]

#: Gaussian draws tried before a numeric mutation falls back to a deterministic move.
_GAUSSIAN_TRIES = 8

#: Identity of an assignment (see :meth:`nas.space.SearchSpace.key`).
ParamsKey = Hashable


# --------------------------------------------------------------------------- option validation


def check_int_option(owner: str, name: str, value: object, minimum: int) -> int:
    """``value`` as an int ``>= minimum``.

    Raises:
        SearcherConfigError: not an int (bools rejected) or below ``minimum``; the message names
            the searcher, the option, the rule and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be an integer >= {minimum}, got {value!r}"
        )
    if int(value) < minimum:
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be an integer >= {minimum}, got {int(value)}"
        )
    return int(value)


def check_probability_option(owner: str, name: str, value: object) -> float:
    """``value`` as a float in ``[0, 1]``.

    Raises:
        SearcherConfigError: not a real number or outside ``[0, 1]``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be a probability in [0, 1], got {value!r}"
        )
    x = float(value)
    if not 0.0 <= x <= 1.0:  # also rejects nan
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be a probability in [0, 1], got {x!r}"
        )
    return x


def check_sigma_option(owner: str, name: str, value: object) -> float:
    """``value`` as a finite float in ``(0, 1]`` (a standard deviation in unit space).

    Raises:
        SearcherConfigError: not a real number or outside ``(0, 1]``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be a number in (0, 1] (a fraction of each "
            f"parameter's unit range), got {value!r}"
        )
    x = float(value)
    if not 0.0 < x <= 1.0:
        raise SearcherConfigError(
            f"{owner}: option {name!r} must be a number in (0, 1] (a fraction of each "
            f"parameter's unit range), got {x!r}"
        )
    return x


# --------------------------------------------------------------------------- history helpers


#: Hashable identity of an assignment without a space (:func:`nas.space.assignment_key`);
#: searchers use their space's :meth:`~nas.space.SearchSpace.key`, which also knows when two
#: assignments describe the same network.
params_key = assignment_key


def complete_with_values(
    trials: Iterable[FrozenTrial], objectives: Sequence[Objective]
) -> tuple[list[FrozenTrial], np.ndarray]:
    """COMPLETE trials that have a finite value for every objective, and their value matrix.

    Returns:
        ``(trials, values)`` where ``values`` has shape ``(len(trials), len(objectives))`` and
        holds sign-adjusted (minimization) values. Trials with a missing or non-finite value are
        left out: they cannot be ranked.
    """
    kept: list[FrozenTrial] = []
    rows: list[list[float]] = []
    for t in trials:
        row = rank_vector(t, objectives)
        if row is not None:
            kept.append(t)
            rows.append(row)
    values = np.array(rows, dtype=float).reshape(len(rows), len(objectives))
    return kept, values


def rank_vector(trial: FrozenTrial, objectives: Sequence[Objective]) -> list[float] | None:
    """The trial's minimization values (``sign * value`` per objective) if it can be ranked.

    Returns:
        ``len(objectives)`` floats when the trial is COMPLETE with a finite number for every
        objective; ``None`` otherwise (another state, a missing, non-numeric or non-finite
        value).
    """
    if trial.state != TrialState.COMPLETE:
        return None
    try:
        row = trial.value_vector(objectives)
    except (ValueError, TypeError):
        return None
    if all(isinstance(v, float | int) and math.isfinite(v) for v in row):
        return [float(v) for v in row]
    return None


def sample_unique(
    space: SearchSpace, rng: np.random.Generator, seen: Container[ParamsKey], max_tries: int
) -> dict[str, Any]:
    """A random assignment whose key (:meth:`SearchSpace.key`) is not in ``seen``, trying at
    most ``1 + max_tries`` draws.

    If every draw is a duplicate (the space is exhausted, or nearly), the last draw is returned
    anyway. ``seen`` is not modified.
    """
    params = space.sample(rng)
    for _ in range(max_tries):
        if space.key(params) not in seen:
            break
        params = space.sample(rng)
    return params


# --------------------------------------------------------------------------- mutation


def is_mutable(param: Param) -> bool:
    """Whether a mutation can change the value: not fixed and more than one value."""
    if param.kind == "fixed":
        return False
    card = param.cardinality
    return card is None or card > 1


def mutable_names(space: SearchSpace, params: Mapping[str, Any]) -> list[str]:
    """Names of the mutable parameters present in ``params``, in the space's order."""
    return [p.name for p in space.params if p.name in params and is_mutable(p)]


def reflect_unit(u: float) -> float:
    """Fold any real ``u`` into ``[0, 1]`` by reflecting at the bounds (a triangle wave)."""
    r = math.fmod(abs(u), 2.0)
    return 2.0 - r if r > 1.0 else r


def mutate_value(
    param: Param,
    value: Any,
    rng: np.random.Generator,
    sigma: float,
) -> Any:
    """A new value for ``param`` near ``value``, different from it whenever possible.

    * float / int: ``u = to_unit(value) + sigma * N(0, 1)``, reflected into ``[0, 1]``, mapped
      back with ``from_unit``. Up to ``_GAUSSIAN_TRIES`` draws are made until the value changes;
      then an int moves one grid step (towards a random side, the other at a bound) and a float
      jumps to the bound farther from it.
    * categorical: a different choice, uniformly.
    * fixed (or any parameter with a single value): ``value`` unchanged.

    Args:
        param: the parameter.
        value: its current value (must be in the domain).
        rng: the only source of randomness.
        sigma: standard deviation of the step, as a fraction of the unit range.

    Raises:
        SpaceError: ``value`` is not in the parameter's domain.
    """
    if not is_mutable(param):
        return param.validate_value(value)
    current = param.validate_value(value)
    if param.kind == "categorical":
        choices = param.choices  # type: ignore[attr-defined]
        i = param.index(current)  # type: ignore[attr-defined]
        j = int(rng.integers(len(choices) - 1))
        return choices[j + 1 if j >= i else j]
    u = param.to_unit(current)
    for _ in range(_GAUSSIAN_TRIES):
        candidate = param.from_unit(reflect_unit(u + sigma * float(rng.standard_normal())))
        if candidate != current:
            return candidate
    if param.kind == "int":
        step = param.step  # type: ignore[attr-defined]
        up = bool(rng.random() < 0.5)
        candidate = current + step if up else current - step
        if not param.contains(candidate):
            candidate = current - step if up else current + step
        return param.validate_value(candidate)
    return param.from_unit(0.0 if u >= 0.5 else 1.0)


def mutate_one(
    space: SearchSpace, params: Mapping[str, Any], rng: np.random.Generator, sigma: float
) -> tuple[dict[str, Any], str | None]:
    """Regularized-evolution mutation: change exactly one active mutable parameter.

    The parameter is drawn uniformly among the active mutable ones; the result is repaired
    (:meth:`SearchSpace.repair`) so that parameters activated by the change are sampled and
    deactivated ones dropped.

    Returns:
        ``(child, name)``: the repaired child and the mutated parameter's name (``None`` when
        nothing is mutable; the child is then the repaired input).
    """
    base = space.repair(params, rng)
    names = mutable_names(space, base)
    if not names:
        return base, None
    name = names[int(rng.integers(len(names)))]
    child = dict(base)
    child[name] = mutate_value(space[name], base[name], rng, sigma)
    return space.repair(child, rng), name


class Mutation(Protocol):
    """A mutation strategy: ``(space, params, rng) -> new params`` (a valid assignment)."""

    def __call__(
        self, space: SearchSpace, params: Mapping[str, Any], rng: np.random.Generator
    ) -> dict[str, Any]:
        """Return a mutated copy of ``params`` that passes ``space.validate``."""
        ...


class GaussianMutation:
    """NSGA-II's per-parameter mutation (the default :class:`Mutation`).

    Each active mutable parameter is mutated independently with probability ``prob`` (``None``:
    ``1 / number of active mutable parameters``, i.e. one mutation per child on average) by
    :func:`mutate_value` with step ``sigma``; the result is repaired.

    Args:
        prob: per-parameter mutation probability in ``[0, 1]``, or ``None``.
        sigma: Gaussian step in unit space, in ``(0, 1]``.

    Raises:
        SearcherConfigError: ``prob`` or ``sigma`` out of range.
    """

    def __init__(self, prob: float | None = None, sigma: float = 0.15) -> None:
        self.prob = None if prob is None else check_probability_option("mutation", "prob", prob)
        self.sigma = check_sigma_option("mutation", "sigma", sigma)

    def __call__(
        self, space: SearchSpace, params: Mapping[str, Any], rng: np.random.Generator
    ) -> dict[str, Any]:
        """See :class:`Mutation`."""
        base = space.repair(params, rng)
        names = mutable_names(space, base)
        if not names:
            return base
        prob = self.prob if self.prob is not None else 1.0 / len(names)
        child = dict(base)
        for name in names:
            if rng.random() < prob:
                child[name] = mutate_value(space[name], base[name], rng, self.sigma)
        return space.repair(child, rng)

    def __repr__(self) -> str:
        return f"GaussianMutation(prob={self.prob!r}, sigma={self.sigma!r})"


# --------------------------------------------------------------------------- crossover


class Crossover(Protocol):
    """A crossover strategy: ``(space, parent_a, parent_b, rng) -> child`` (a valid assignment)."""

    def __call__(
        self,
        space: SearchSpace,
        parent_a: Mapping[str, Any],
        parent_b: Mapping[str, Any],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        """Return a child assignment that passes ``space.validate``."""
        ...


class UniformCrossover:
    """Uniform crossover over the union of both parents' parameters (the default).

    For every parameter of the space (in order) that either parent has: if both have it, the
    child takes parent B's value with probability ``swapping_prob`` and A's otherwise; if only
    one has it, the child takes that one. The child is then repaired, which drops parameters
    inactive under the inherited values and samples active ones neither parent had.

    Args:
        swapping_prob: probability in ``[0, 1]`` of taking a shared parameter from parent B.

    Raises:
        SearcherConfigError: ``swapping_prob`` outside ``[0, 1]``.
    """

    def __init__(self, swapping_prob: float = 0.5) -> None:
        self.swapping_prob = check_probability_option("crossover", "swapping_prob", swapping_prob)

    def __call__(
        self,
        space: SearchSpace,
        parent_a: Mapping[str, Any],
        parent_b: Mapping[str, Any],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        """See :class:`Crossover`."""
        child: dict[str, Any] = {}
        for name in space.names:
            in_a, in_b = name in parent_a, name in parent_b
            if in_a and in_b:
                child[name] = (
                    parent_b[name] if rng.random() < self.swapping_prob else parent_a[name]
                )
            elif in_a:
                child[name] = parent_a[name]
            elif in_b:
                child[name] = parent_b[name]
        return space.repair(child, rng)

    def __repr__(self) -> str:
        return f"UniformCrossover(swapping_prob={self.swapping_prob!r})"


# --------------------------------------------------------------------------- selection


class Selection(Protocol):
    """A parent-selection strategy over a ranked population.

    Called with the population's non-dominated ranks (0 = best) and crowding distances (larger
    = more isolated = preferred), both of shape ``(n,)`` with ``n >= 1``; returns an index in
    ``[0, n)``.
    """

    def __call__(self, ranks: np.ndarray, crowding: np.ndarray, rng: np.random.Generator) -> int:
        """Return the index of the selected individual."""
        ...


class BinaryTournament:
    """Crowded binary tournament (Deb et al. 2002), the default :class:`Selection`.

    Two distinct individuals are drawn uniformly; the one with the lower rank wins, ties go to
    the larger crowding distance, remaining ties to the first drawn. With one individual, it is
    returned.
    """

    def __call__(self, ranks: np.ndarray, crowding: np.ndarray, rng: np.random.Generator) -> int:
        """See :class:`Selection`."""
        n = len(ranks)
        if n < 1:
            raise ValueError("binary tournament needs a non-empty population, got 0 individuals")
        if n == 1:
            return 0
        a, b = (int(i) for i in rng.choice(n, size=2, replace=False))
        if ranks[a] != ranks[b]:
            return a if ranks[a] < ranks[b] else b
        return b if crowding[b] > crowding[a] else a

    def __repr__(self) -> str:
        return "BinaryTournament()"
