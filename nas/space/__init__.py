"""Search spaces: typed parameters, conditions, YAML/JSON/ConfigSpace loading, sampling.

Example::

    import numpy as np
    from nas.space import SearchSpace

    space = SearchSpace.from_yaml("search_spaces/conditional.yaml")
    params = space.sample(np.random.default_rng(0))
    space.validate(params)  # passes: exactly the active parameters, all in their domains
"""

from __future__ import annotations

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
from nas.space._space import SearchSpace

__all__ = [
    "CategoricalParam",
    "Condition",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Param",
    "ParamKind",
    "Scalar",
    "SearchSpace",
    "value_key",
]
