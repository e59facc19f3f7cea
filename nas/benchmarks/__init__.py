"""Built-in benchmark objectives: synthetic test functions and the digits quick-start problem.

Synthetic problems (:mod:`nas.benchmarks.functions`): Branin, Hartmann6, ZDT1 and BraninCurrin,
each as a pure numpy function, a trial-taking objective wrapper and a search space in
:data:`SPACES`, plus multi-fidelity variants that read ``trial.budget``.

The quick-start problem (:mod:`nas.benchmarks.digits`): :func:`digits_mlp`, a two-objective
(validation error, parameter count) MLP search on scikit-learn's digits data set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.benchmarks.digits import (
        DIGITS_MLP_DIRECTIONS,
        DIGITS_MLP_SPACE,
        MAX_EPOCHS,
        digits_mlp,
        digits_mlp_epochs,
        load_digits_split,
        mlp_n_params,
    )
    from nas.benchmarks.functions import (
        BRANIN_MINIMIZERS,
        BRANIN_MINIMUM,
        DIRECTIONS,
        HARTMANN6_MINIMIZER,
        HARTMANN6_MINIMUM,
        OBJECTIVES,
        SPACES,
        BenchmarkInputError,
        BenchmarkTrial,
        branin,
        branin_currin,
        branin_currin_objective,
        branin_mf,
        branin_mf_objective,
        branin_objective,
        hartmann6,
        hartmann6_mf,
        hartmann6_mf_objective,
        hartmann6_objective,
        zdt1,
        zdt1_mf,
        zdt1_mf_objective,
        zdt1_objective,
        zdt1_true_front,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.benchmarks.digits": [
                "DIGITS_MLP_DIRECTIONS",
                "DIGITS_MLP_SPACE",
                "MAX_EPOCHS",
                "digits_mlp",
                "digits_mlp_epochs",
                "load_digits_split",
                "mlp_n_params",
            ],
            "nas.benchmarks.functions": [
                "BRANIN_MINIMIZERS",
                "BRANIN_MINIMUM",
                "DIRECTIONS",
                "HARTMANN6_MINIMIZER",
                "HARTMANN6_MINIMUM",
                "OBJECTIVES",
                "SPACES",
                "BenchmarkInputError",
                "BenchmarkTrial",
                "branin",
                "branin_currin",
                "branin_currin_objective",
                "branin_mf",
                "branin_mf_objective",
                "branin_objective",
                "hartmann6",
                "hartmann6_mf",
                "hartmann6_mf_objective",
                "hartmann6_objective",
                "zdt1",
                "zdt1_mf",
                "zdt1_mf_objective",
                "zdt1_objective",
                "zdt1_true_front",
            ],
        },
    )

__all__ = [
    "BRANIN_MINIMIZERS",
    "BRANIN_MINIMUM",
    "DIGITS_MLP_DIRECTIONS",
    "DIGITS_MLP_SPACE",
    "DIRECTIONS",
    "HARTMANN6_MINIMIZER",
    "HARTMANN6_MINIMUM",
    "MAX_EPOCHS",
    "OBJECTIVES",
    "SPACES",
    "BenchmarkInputError",
    "BenchmarkTrial",
    "branin",
    "branin_currin",
    "branin_currin_objective",
    "branin_mf",
    "branin_mf_objective",
    "branin_objective",
    "digits_mlp",
    "digits_mlp_epochs",
    "hartmann6",
    "hartmann6_mf",
    "hartmann6_mf_objective",
    "hartmann6_objective",
    "load_digits_split",
    "mlp_n_params",
    "zdt1",
    "zdt1_mf",
    "zdt1_mf_objective",
    "zdt1_objective",
    "zdt1_true_front",
]
