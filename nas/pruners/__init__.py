"""Pruners: stop unpromising trials early from the intermediate values they report.

An objective reports values while it runs (``trial.report(step, value)``) and asks
``trial.should_prune()``; when that returns True it raises :class:`nas.TrialPruned` and the
trial is stored PRUNED with its last reported values. The study's pruner -- ``pruner: {name:
..., options: {...}}`` in a study file, ``create_study(pruner=...)`` in Python -- is stored with
the study, so every worker and every resumed run decides the same from the stored values.

Built-in pruners (options in each class's docstring): ``median``, ``percentile``,
``successive_halving`` (asynchronous, ASHA), ``hyperband``, ``wilcoxon``, ``patient``,
``threshold``, ``curve`` (learning-curve extrapolation) and ``pareto`` (several objectives).
A plug-in subclasses :class:`Pruner` and registers with :func:`register_pruner`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.pruners._base import Pruner
    from nas.pruners._registry import (
        PRUNERS,
        create_pruner,
        parse_pruner,
        pruner_names,
        register_pruner,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.pruners._base": ["Pruner"],
            "nas.pruners._registry": [
                "PRUNERS",
                "create_pruner",
                "parse_pruner",
                "pruner_names",
                "register_pruner",
            ],
        },
    )

__all__ = [
    "PRUNERS",
    "Pruner",
    "create_pruner",
    "parse_pruner",
    "pruner_names",
    "register_pruner",
]
