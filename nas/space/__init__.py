"""Search spaces: typed parameters, conditions, YAML/JSON/ConfigSpace loading, sampling.

Example::

    import numpy as np
    from nas.space import SearchSpace

    space = SearchSpace.from_yaml("search_spaces/conditional.yaml")
    params = space.sample(np.random.default_rng(0))
    space.validate(params)  # passes: exactly the active parameters, all in their domains

Architecture spaces of supernets (:class:`ArchSpace`, YAML under a ``supernet`` key) are pure
data too: their ops (:data:`ARCH_OPS`), costs (:func:`arch_cost`) and masked views
(:class:`ArchMask`) need no torch; :mod:`nas.supernet` builds the networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.space._arch import (
        SKIPPED,
        Arch,
        ArchCost,
        ArchMask,
        ArchSpace,
        LayerChoice,
        StageSpec,
        arch_cost,
    )
    from nas.space._archops import ARCH_OPS, ConvRecord, CostCounter, OpSpec
    from nas.space._load import load_space
    from nas.space._params import (
        CategoricalParam,
        Condition,
        FixedParam,
        FloatParam,
        IntParam,
        Param,
        ParamKind,
        Scalar,
        value_key,
    )
    from nas.space._quant import (
        FIXED_QUANT,
        QuantChoice,
        QuantCost,
        QuantSite,
        QuantSpec,
        arch_metrics,
        quant_cost,
    )
    from nas.space._space import SearchSpace, assignment_key
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.space._arch": [
                "SKIPPED",
                "Arch",
                "ArchCost",
                "ArchMask",
                "ArchSpace",
                "LayerChoice",
                "StageSpec",
                "arch_cost",
            ],
            "nas.space._archops": ["ARCH_OPS", "ConvRecord", "CostCounter", "OpSpec"],
            "nas.space._load": ["load_space"],
            "nas.space._params": [
                "CategoricalParam",
                "Condition",
                "FixedParam",
                "FloatParam",
                "IntParam",
                "Param",
                "ParamKind",
                "Scalar",
                "value_key",
            ],
            "nas.space._quant": [
                "FIXED_QUANT",
                "QuantChoice",
                "QuantCost",
                "QuantSite",
                "QuantSpec",
                "arch_metrics",
                "quant_cost",
            ],
            "nas.space._space": ["SearchSpace", "assignment_key"],
        },
    )

__all__ = [
    "ARCH_OPS",
    "FIXED_QUANT",
    "QuantChoice",
    "QuantCost",
    "QuantSite",
    "QuantSpec",
    "arch_metrics",
    "quant_cost",
    "SKIPPED",
    "Arch",
    "ArchCost",
    "ArchMask",
    "ArchSpace",
    "CategoricalParam",
    "Condition",
    "ConvRecord",
    "CostCounter",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "LayerChoice",
    "OpSpec",
    "Param",
    "ParamKind",
    "Scalar",
    "SearchSpace",
    "StageSpec",
    "arch_cost",
    "assignment_key",
    "load_space",
    "value_key",
]
