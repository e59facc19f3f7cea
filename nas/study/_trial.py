"""The handle an objective function receives: parameters in, reports and attributes out."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas._types import FrozenTrial, TrialState, is_finite_number

if TYPE_CHECKING:
    from nas.study._study import Study

__all__ = ["Trial"]


class Trial:
    """A RUNNING trial as seen by the objective function.

    The objective reads :attr:`params` (and :attr:`budget` for multi-fidelity searchers), may
    :meth:`report` intermediate values -- and then ask :meth:`should_prune`, raising
    :class:`nas.TrialPruned` when it says so -- and set user attributes, and returns its
    value(s). Every write goes to the database at once, so nothing reported is lost if the
    process dies.

    Attributes:
        number: 0-based trial number within the study.
        params: the active parameters proposed by the searcher (a copy; mutating it changes
            nothing stored).
        budget: the fidelity to evaluate at (e.g. epochs), or ``None``.
        trial_id: storage-wide id.
        study: the study this trial belongs to.
    """

    def __init__(self, study: Study, frozen: FrozenTrial, worker_id: str) -> None:
        self.study = study
        self.number = frozen.number
        self.trial_id = frozen.trial_id
        self.params: dict[str, Any] = dict(frozen.params)
        self.budget = frozen.budget
        self.system_attrs: dict[str, Any] = dict(frozen.system_attrs)
        self.worker_id = worker_id
        self._user_attrs: dict[str, Any] = dict(frozen.user_attrs)
        # What the trial holds (a re-run after a crash keeps the earlier run's values until it
        # reports those steps again), and the step this run reported last.
        self._intermediate: dict[str, dict[int, float]] = {
            k: dict(v) for k, v in frozen.intermediate_values.items()
        }
        self._last_step: int | None = None
        self._prune_reason: str | None = None

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params!r}, budget={self.budget!r})"

    @property
    def user_attrs(self) -> dict[str, Any]:
        """User attributes set so far (a copy)."""
        return dict(self._user_attrs)

    def report(self, step: int, value: float | Mapping[str, float]) -> None:
        """Store intermediate value(s) at ``step`` (e.g. validation loss after each epoch).

        Args:
            step: a non-negative integer (epoch, iteration, ...). Reporting a step twice
                overwrites the earlier value.
            value: a number for a single-objective study, or a mapping objective name -> number
                (any subset of the objectives) for any study.

        Raises:
            ValueError: a negative/non-integer step, an unknown objective name, a non-finite or
                non-numeric value, or a bare number in a multi-objective study.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"trial.report: step must be a non-negative int, got {step!r}")
        objectives = self.study.objectives
        index = {o.name: i for i, o in enumerate(objectives)}
        if isinstance(value, Mapping):
            items = dict(value)
        else:
            if len(objectives) != 1:
                names = ", ".join(index)
                raise ValueError(
                    f"trial.report: this study has {len(objectives)} objectives ({names}); "
                    "report a mapping name -> value"
                )
            items = {objectives[0].name: value}
        by_index: dict[int, float] = {}
        for name, v in items.items():
            if name not in index:
                raise ValueError(
                    f"trial.report: unknown objective {name!r}; objectives are {list(index)}"
                )
            if not is_finite_number(_as_number(v)):
                raise ValueError(
                    f"trial.report: value for {name!r} must be a finite number, got {v!r}"
                )
            by_index[index[name]] = float(_as_number(v))
        self.study._storage.report(self.trial_id, step, by_index)
        for i, v in by_index.items():
            self._intermediate.setdefault(objectives[i].name, {})[step] = v
        self._last_step = step

    @property
    def intermediate_values(self) -> dict[str, dict[int, float]]:
        """What the trial holds: objective name -> {step -> value} (a copy)."""
        return {k: dict(v) for k, v in self._intermediate.items()}

    def last_values(self) -> dict[str, float]:
        """Per objective, the value at the last step this run reported it (the values a
        PRUNED trial is stored with); values of an earlier run of the trial count when this
        run reported nothing yet."""
        out: dict[str, float] = {}
        for name, curve in self._intermediate.items():
            steps = [s for s in curve if self._last_step is None or s <= self._last_step]
            if steps:
                out[name] = curve[max(steps)]
        return out

    def should_prune(self) -> bool:
        """Whether the study's pruner would stop this trial now, judging the values reported
        so far (up to the step reported last) against the stored history of the study.

        The decision is a function of what the storage holds, so every worker -- and a
        resumed run -- decides the same. When it is True the objective should raise
        :class:`nas.TrialPruned` (the trial is then stored PRUNED with its last reported
        values and the pruner's reason). Always False in a study without a pruner and before
        the first :meth:`report` of this run.

        Example:
            >>> for epoch in range(20):  # doctest: +SKIP
            ...     trial.report(epoch, validate(model))
            ...     if trial.should_prune():
            ...         raise nas.TrialPruned()

        Raises:
            PrunerConfigError: the study's pruner is not registered in this process.
        """
        pruner = self.study.pruner
        if pruner is None or self._last_step is None:
            return False
        last = self._last_step
        snapshot = FrozenTrial(
            trial_id=self.trial_id,
            number=self.number,
            state=TrialState.RUNNING,
            params=dict(self.params),
            budget=self.budget,
            intermediate_values={
                k: {s: v for s, v in curve.items() if s <= last}
                for k, curve in self._intermediate.items()
            },
            user_attrs=dict(self._user_attrs),
            system_attrs=dict(self.system_attrs),
            worker_id=self.worker_id,
        )
        history = self.study.trials if pruner.reads_history else []
        self._prune_reason = pruner.prune(snapshot, history)
        return self._prune_reason is not None

    @property
    def prune_reason(self) -> str | None:
        """Why the last :meth:`should_prune` said True (the pruner's reason), else ``None``."""
        return self._prune_reason

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable user attribute (overwrites an earlier value of ``key``).

        Raises:
            TypeError: ``value`` is not JSON-serialisable.
        """
        self.study._storage.set_trial_user_attr(self.trial_id, key, value)
        self._user_attrs[key] = value

    def add_artifact(self, path: str | Path, kind: str = "file") -> int:
        """Record a file produced by this trial (checkpoint, plot, log) with its sha256 and size.

        The file stays where it is; the database stores its path, size and hash.

        Returns:
            The artifact id.

        Raises:
            FileNotFoundError: ``path`` does not exist.
        """
        p = Path(path)
        digest = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return self.study._storage.add_artifact(
            self.study.study_id,
            kind=kind,
            path=str(p.resolve()),
            sha256=digest.hexdigest(),
            size=p.stat().st_size,
            trial_id=self.trial_id,
        )


def _as_number(v: Any) -> Any:
    """Unwrap numpy / torch scalars (anything with ``.item()`` returning a number)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    item = getattr(v, "item", None)
    if callable(item):
        try:
            out = item()
        except (TypeError, ValueError, RuntimeError):
            return v
        if isinstance(out, int | float) and not isinstance(out, bool):
            return out
    return v


def normalize_result(
    result: Any, objective_names: list[str]
) -> tuple[dict[str, float] | None, dict[str, float], str | None]:
    """Split an objective's return value into objective values and other metrics.

    A mapping must hold every objective (a finite number each); its other keys are *metrics*
    (numbers, non-finite allowed: e.g. ``latency_ms``, ``avg_wbits`` that constraints read),
    stored with the trial. A bare number (one objective) or a sequence (one per objective) has
    no metrics.

    Returns:
        ``(values, metrics, None)`` on success, ``(None, {}, reason)`` when the trial must be
        FAILED (a missing objective, a non-finite objective value, a value that is not a
        number).
    """
    metrics: dict[str, float] = {}
    if isinstance(result, Mapping):
        got = dict(result)
        missing = [n for n in objective_names if n not in got]
        if missing:
            return (
                None,
                {},
                (
                    f"objective returned keys {sorted(map(str, got))}; expected "
                    f"{objective_names} (missing {missing})"
                ),
            )
        raw = [got[n] for n in objective_names]
        for k, v in got.items():
            if k in objective_names:
                continue
            v = _as_number(v)
            if not isinstance(k, str) or not isinstance(v, int | float) or isinstance(v, bool):
                return (
                    None,
                    {},
                    (
                        f"objective returned {k!r}: {v!r} besides the objectives; other keys must "
                        "be metric names with numbers (use trial.set_user_attr for other data)"
                    ),
                )
            metrics[k] = float(v)
    elif isinstance(result, list | tuple) and len(objective_names) > 1:
        if len(result) != len(objective_names):
            return (
                None,
                {},
                (
                    f"objective returned {len(result)} values; expected {len(objective_names)} "
                    f"({objective_names})"
                ),
            )
        raw = list(result)
    elif len(objective_names) == 1:
        raw = [result]
    else:
        return (
            None,
            {},
            (
                f"objective returned {type(result).__name__}; a study with objectives "
                f"{objective_names} needs a mapping name -> value"
            ),
        )
    values: dict[str, float] = {}
    for name, v in zip(objective_names, raw, strict=True):
        v = _as_number(v)
        if not isinstance(v, int | float) or isinstance(v, bool):
            return (
                None,
                {},
                (f"objective {name!r}: returned {type(v).__name__} {v!r}, not a number"),
            )
        if not math.isfinite(v):
            return None, {}, f"objective {name!r}: returned {v}, not a finite number"
        values[name] = float(v)
    return values, metrics, None
