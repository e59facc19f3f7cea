"""The registries of the supernet machinery's plug-ins, without the machinery.

:data:`PATH_SAMPLERS` (``train.sampler`` of a study file, ``nas bench ranking --sampler``) and
:data:`SPLIT_POLICIES` (``train.splits.policy``, ``nas bench splits --policy``) list their
built-in entries by name only (:meth:`~nas._registry.Registry.register_lazy`): listing the
names -- the command line's choices, a config error's message -- imports neither numpy nor
torch; an entry's module is imported when the entry is looked up. Plug-ins register their class
as before (``@PATH_SAMPLERS.register("mine")``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._registry import Registry

if TYPE_CHECKING:
    from nas.supernet._samplers import PathSampler
    from nas.supernet._splits import SplitPolicy

__all__ = ["PATH_SAMPLERS", "SPLIT_POLICIES"]

#: Every path sampler by name (the study file's ``train.sampler``).
PATH_SAMPLERS: Registry[type[PathSampler]] = Registry("path sampler")
for _name, _cls in (
    ("uniform", "UniformSampler"),
    ("sandwich", "SandwichSampler"),
    ("pada", "PadaSampler"),
):
    PATH_SAMPLERS.register_lazy(_name, f"nas.supernet._samplers:{_cls}")

#: Every split policy by name (the study file's ``train.splits.policy``).
SPLIT_POLICIES: Registry[type[SplitPolicy]] = Registry("split policy")
for _name, _cls in (
    ("none", "NoSplit"),
    ("exhaustive", "ExhaustiveSplit"),
    ("random", "RandomSplit"),
    ("gm", "GradientMatchingSplit"),
):
    SPLIT_POLICIES.register_lazy(_name, f"nas.supernet._splits:{_cls}")
del _name, _cls
