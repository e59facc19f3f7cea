"""The reserved attribute keys: one table for storage, study, supernet, dashboard and CLI.

Studies and trials carry user attributes (JSON values under string keys). ``nas`` itself stores
some of its own state there, under the keys below; user code should not write them. Every module
that reads or writes one imports it from here, so a key is spelled once.

Study attributes:

* :data:`RUN_ATTR` (``nas.run``) -- how ``nas run FILE`` / ``nas worker FILE`` / ``python -m
  nas.supernet.train FILE`` ran the study (objective spec, total, timeout, file), so that
  ``nas worker NAME`` can join it without the file;
* :data:`OBJECTIVE_ATTR` (``nas.objective``) -- the pinned definition of a typed objective
  (e.g. a supernet); :data:`LEGACY_OBJECTIVE_ATTRS` maps the keys earlier versions wrote to
  the objective type they held;
* :data:`PRUNER_ATTR` (``nas.pruner``) -- the study's pruner, ``{"name": ..., "options": {...}}``
  (:mod:`nas.pruners`), written with the study;
* :data:`NOTE_ATTR` (``nas.note``) -- the dashboard's free-text note on the study;
* :data:`FAMILY_ATTR` (``supernet.family``) -- the record of a supernet split into a family;
* ``nas.lease.<name>`` (:func:`lease_key`, prefix :data:`LEASE_PREFIX`) -- a lease held by one
  process (e.g. :data:`SUPERNET_LEASE`, the process training a study's supernet).

Trial attributes:

* :data:`ARCH_ATTR` (``arch``) -- the canonical architecture a NAS trial measured;
* :data:`LEAF_ATTR` (``supernet.leaf``) -- the leaf of the family whose weights scored it;
* :data:`EXCLUDED_ATTR` (``nas.excluded``) -- why the dashboard's user excluded the trial.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ARCH_ATTR",
    "EXCLUDED_ATTR",
    "FAMILY_ATTR",
    "LEAF_ATTR",
    "LEASE_PREFIX",
    "LEGACY_OBJECTIVE_ATTRS",
    "NOTE_ATTR",
    "OBJECTIVE_ATTR",
    "RESERVED_STUDY_ATTRS",
    "RESERVED_TRIAL_ATTRS",
    "PRUNER_ATTR",
    "RUN_ATTR",
    "SUPERNET_LEASE",
    "is_reserved_study_attr",
    "lease_key",
]

RUN_ATTR: Final = "nas.run"
OBJECTIVE_ATTR: Final = "nas.objective"
LEGACY_OBJECTIVE_ATTRS: Final = {"nas.supernet": "supernet"}
NOTE_ATTR: Final = "nas.note"
PRUNER_ATTR: Final = "nas.pruner"
FAMILY_ATTR: Final = "supernet.family"
LEASE_PREFIX: Final = "nas.lease."
SUPERNET_LEASE: Final = "supernet-training"

ARCH_ATTR: Final = "arch"
LEAF_ATTR: Final = "supernet.leaf"
EXCLUDED_ATTR: Final = "nas.excluded"

#: Study attribute keys ``nas`` writes itself (leases: :func:`is_reserved_study_attr`).
RESERVED_STUDY_ATTRS: Final = frozenset(
    {RUN_ATTR, OBJECTIVE_ATTR, PRUNER_ATTR, NOTE_ATTR, FAMILY_ATTR, *LEGACY_OBJECTIVE_ATTRS}
)
#: Trial attribute keys ``nas`` writes itself.
RESERVED_TRIAL_ATTRS: Final = frozenset({ARCH_ATTR, LEAF_ATTR, EXCLUDED_ATTR})


def lease_key(name: str) -> str:
    """The study attribute holding lease ``name``: ``nas.lease.<name>``."""
    return f"{LEASE_PREFIX}{name}"


def is_reserved_study_attr(key: str) -> bool:
    """Whether ``nas`` owns the study attribute ``key`` (a table key or a lease)."""
    return key in RESERVED_STUDY_ATTRS or key.startswith(LEASE_PREFIX)
