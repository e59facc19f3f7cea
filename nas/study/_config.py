"""Study files: the YAML that ``nas run`` takes, validated before anything touches a database.

Format (keys are part of the public contract)::

    name: quickstart                      # unique study name
    space: ../search_spaces/x.yaml        # path (relative to this file, else cwd) or a mapping
    objective: package.module:function    # or path/to/file.py:function, or a typed objective:
    # objective: {type: supernet, space: ../search_spaces/digits_cnn.yaml, train: {...}}
    # objective: {type: command, run: ["python", "sim.py", "--x", "{x}"], timeout: 60}
    # (dispatched by `type` through nas.study.OBJECTIVE_TYPES; `space` may then be left out:
    # the objective gives the search space)
    objectives: {error: minimize, n_params: minimize}
    constraints: {n_params: {max: 50000}}  # optional: metric -> {max: x} and/or {min: y}, over
                                          # the objectives and the other numbers the objective
                                          # returns; or package.module:function (a callable
                                          # returning floats, <= 0 satisfied)
    searcher: {name: evolution, options: {population_size: 16}}   # or just: searcher: random
    pruner: {name: median, options: {n_startup_trials: 5}}        # optional (nas.pruners);
                                          # or just: pruner: median
    n_trials: 60                          # TOTAL trials of the study
    seed: 0
    storage: sqlite:///nas.db             # optional
    timeout: 3600                         # optional, seconds
    plot: results/pareto.html             # optional: offline HTML plot written after `nas run`
                                          # (Pareto front, or history for one objective)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas._types import Objective, parse_objectives
from nas._yaml import read_yaml
from nas.exceptions import StudyConfigError
from nas.space import SearchSpace, load_space
from nas.study._constraints import Constraints, parse_constraints
from nas.study._objectives import OBJECTIVE_TYPES, parse_typed_objective
from nas.study._values import (
    check_n_trials,
    check_searcher_options,
    check_seed,
    check_storage_url,
    check_study_name,
    check_timeout,
)

__all__ = ["StudyConfig", "load_study_config", "resolve_objective", "study_config_from_dict"]

_KEYS = {
    "name",
    "space",
    "objective",
    "objectives",
    "searcher",
    "n_trials",
    "seed",
    "storage",
    "timeout",
    "plot",
    "constraints",
    "pruner",
}
_REQUIRED = ("name", "objective", "objectives")


@dataclass(frozen=True)
class StudyConfig:
    """A validated study file.

    Build it with :func:`load_study_config` or :func:`study_config_from_dict`; built directly,
    its scalar values (name, searcher options, n_trials, seed, storage, timeout) are checked
    when it is made (:mod:`nas.study._values`; errors start with :attr:`source` and the key),
    and ``timeout`` becomes a float.
    """

    name: str
    space: SearchSpace
    objective: str | Callable[..., Any]
    objectives: tuple[Objective, ...]
    searcher: str = "random"
    searcher_options: dict[str, Any] = field(default_factory=dict)
    n_trials: int | None = None
    seed: int = 0
    storage: str | None = None
    timeout: float | None = None
    plot: Path | None = None
    constraints: Constraints | None = None
    #: ``{"name": ..., "options": {...}}``, checked against the objectives; ``None``: none.
    pruner: dict[str, Any] | None = None
    source: str = "<dict>"
    base_dir: Path = field(default_factory=Path.cwd)
    #: The searcher built while the file was read -- to choose a typed objective's encoding
    #: (``encoding: auto``) -- for :attr:`space`, :attr:`objectives`, :attr:`searcher_options`
    #: and the seed :attr:`searcher_seed`; :func:`~nas.study.open_study` hands it to the study
    #: instead of building another. ``None`` when none was built.
    searcher_instance: Any = field(default=None, compare=False, repr=False)
    searcher_seed: int | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        def where(key: str) -> str:
            return f"{self.source}: {key}"

        check_study_name(self.name, where("name"))
        options = check_searcher_options(self.searcher_options, where("searcher.options"))
        object.__setattr__(self, "searcher_options", options)
        check_n_trials(self.n_trials, where("n_trials"))
        check_seed(self.seed, where("seed"))
        check_storage_url(self.storage, where("storage"))
        object.__setattr__(self, "timeout", check_timeout(self.timeout, where("timeout")))


def _err(source: str, key: str, msg: str) -> StudyConfigError:
    return StudyConfigError(f"{source}: {key}: {msg}")


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML file.

    Raises:
        StudyConfigError: missing file, YAML syntax error (with line), unknown/missing key, or
            bad value.
        SpaceError: the referenced or inline search space is invalid (names its file and key).
    """
    return read_study_config(path)


def read_study_config(path: str | Path, *, searcher_seed: int | None = None) -> StudyConfig:
    """:func:`load_study_config`, with the ``searcher_seed`` of :func:`study_config_from_dict`
    (the seed the study will use, when an override replaces the file's)."""
    p = Path(path)
    source = str(path)
    data = read_yaml(p, StudyConfigError, source)
    return study_config_from_dict(
        data, source=source, base_dir=p.resolve().parent, searcher_seed=searcher_seed
    )


def study_config_from_dict(
    data: Any,
    *,
    source: str = "<dict>",
    base_dir: Path | None = None,
    searcher_seed: int | None = None,
) -> StudyConfig:
    """Validate the mapping form of a study file (see the module docstring), every value once.

    Args:
        data: the file's mapping.
        source: how messages name the file.
        base_dir: where relative paths in it point (default: the current directory).
        searcher_seed: the seed the study will use when it is not the file's (a validated
            override such as ``nas run --seed``): a searcher built while reading the file (to
            choose a typed objective's encoding) is built with it, so the study can use it.

    Raises:
        StudyConfigError: unknown or missing key, or a bad value (``<source>: <key>: ...``).
        SpaceError: the referenced or inline search space is invalid.
        UnknownSearcherError / SearcherConfigError: while choosing a typed objective's
            encoding, only when no encoding is left.
    """
    base = base_dir or Path.cwd()
    if not isinstance(data, Mapping):
        raise StudyConfigError(
            f"{source}: a study file must be a mapping with keys {sorted(_KEYS)}"
        )
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise _err(source, unknown[0], f"unknown key; valid keys: {', '.join(sorted(_KEYS))}")
    for key in _REQUIRED:
        if key not in data:
            raise _err(source, key, "missing (required)")

    objective: str | Callable[..., Any] = data["objective"]
    typed = None
    if isinstance(objective, Mapping):
        typed = parse_typed_objective(objective, source=source, base_dir=base)
        objective = typed
    elif not isinstance(objective, str) or ":" not in objective:
        raise _err(
            source,
            "objective",
            "must be 'package.module:function' or a mapping with a type "
            f"({', '.join(OBJECTIVE_TYPES.names())}), got {objective!r}",
        )
    space = _load_space(data["space"], source, base) if "space" in data else None
    if space is None and typed is None:
        raise _err(source, "space", "missing (required)")
    raw_objs = data["objectives"]
    if not isinstance(raw_objs, Mapping) or not raw_objs:
        raise _err(source, "objectives", "must be a non-empty mapping name -> minimize|maximize")
    try:
        objectives = parse_objectives({str(k): v for k, v in raw_objs.items()})
    except ValueError as e:
        raise _err(source, "objectives", str(e)) from None
    if typed is not None:
        try:
            typed.check_objectives({o.name: o.direction for o in objectives})
        except StudyConfigError as e:
            raise StudyConfigError(f"{source}: {e}") from None

    searcher_name, options = _parse_searcher(data.get("searcher", "random"), source)
    seed = data.get("seed", 0)
    built: list[tuple[SearchSpace, Any]] = []
    probe_seed = seed if searcher_seed is None else searcher_seed
    if typed is not None:

        def build(candidate: SearchSpace) -> Any:
            from nas.searchers import create_searcher

            searcher = create_searcher(searcher_name, candidate, objectives, probe_seed, options)
            built.append((candidate, searcher))
            return searcher

        typed, space = typed.study_space(
            space=space,
            searcher=searcher_name,
            searcher_options=options,
            objectives=objectives,
            source=source,
            build=build,
        )
        objective = typed
    assert space is not None
    instance = next((s for candidate, s in built if candidate is space), None)

    plot = data.get("plot")
    if plot is not None and (not isinstance(plot, str) or not plot.endswith(".html")):
        raise _err(source, "plot", f"must be the path of an .html file to write, got {plot!r}")

    constraints = _parse_constraints(data.get("constraints"), source, base)
    if typed is not None and constraints is not None and hasattr(typed, "check_constraints"):
        try:
            typed.check_constraints(constraints.metrics)
        except StudyConfigError as e:
            raise StudyConfigError(f"{source}: {e}") from None

    pruner = _parse_pruner(data.get("pruner"), source, objectives, seed)

    return StudyConfig(
        name=data["name"],
        space=space,
        objective=objective,
        objectives=objectives,
        searcher=searcher_name,
        searcher_options=options,
        n_trials=data.get("n_trials"),
        seed=seed,
        storage=data.get("storage"),
        timeout=data.get("timeout"),
        plot=None if plot is None else Path(plot).expanduser(),
        constraints=constraints,
        pruner=pruner,
        source=source,
        base_dir=base,
        searcher_instance=instance,
        searcher_seed=None if instance is None else probe_seed,
    )


def _load_space(value: Any, source: str, base: Path) -> SearchSpace:
    space = load_space(value, source=source, key="space", base_dir=base)
    return space if isinstance(space, SearchSpace) else space.search_space


def _parse_constraints(value: Any, source: str, base: Path) -> Constraints | None:
    """The ``constraints:`` key: a mapping of bounds, or ``package.module:function``."""
    if isinstance(value, str):
        if ":" not in value:
            raise _err(
                source,
                "constraints",
                "must be a mapping metric -> {max: x} / {min: y}, or 'package.module:function' "
                f"(a callable returning floats, <= 0 satisfied), got {value!r}",
            )
        try:
            func = resolve_objective(value, base)
        except StudyConfigError as e:
            raise _err(source, "constraints", str(e).replace("objective ", "", 1)) from None
        return parse_constraints(func, source=source)
    if value is not None and not isinstance(value, Mapping):
        raise _err(
            source,
            "constraints",
            f"must be a mapping metric -> {{max: x}} / {{min: y}}, got {value!r}",
        )
    return parse_constraints(value, source=source)


def _parse_pruner(
    value: Any, source: str, objectives: tuple[Objective, ...], seed: Any
) -> dict[str, Any] | None:
    """The ``pruner:`` key: a name or ``{name, options}``, built once to check its options
    against the study's objectives."""
    from nas.exceptions import PrunerConfigError
    from nas.pruners import create_pruner, parse_pruner

    try:
        spec = parse_pruner(value, f"{source}: pruner")
        if spec is not None:
            create_pruner(
                spec["name"], objectives, seed if isinstance(seed, int) else 0, spec["options"]
            )
    except PrunerConfigError as e:
        text = str(e)
        raise PrunerConfigError(
            text if text.startswith(source) else f"{source}: pruner: {text}"
        ) from None
    return spec


def _parse_searcher(value: Any, source: str) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, Mapping):
        raise _err(
            source, "searcher", f"must be a name or a mapping {{name, options}}, got {value!r}"
        )
    extra = sorted(set(map(str, value)) - {"name", "options"})
    if extra:
        raise _err(source, f"searcher.{extra[0]}", "unknown key; valid keys: name, options")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise _err(source, "searcher.name", f"must be a searcher name, got {name!r}")
    options = value.get("options") or {}
    if not isinstance(options, Mapping):
        raise _err(source, "searcher.options", f"must be a mapping, got {options!r}")
    return name, dict(options)


def resolve_objective(
    spec: str | Callable[..., Any], base_dir: Path | None = None
) -> Callable[..., Any]:
    """Import the objective named ``package.module:function`` or ``path/to/file.py:function``
    (an objective that is already built, like a study file's typed objective, is returned as
    it is).

    Modules are imported with the current directory (and ``base_dir``) on ``sys.path``, the way
    ``python -m`` would, so a user's own modules next to the study work.

    Raises:
        StudyConfigError: bad spec, module not importable (with the import error's message),
            no such attribute, or not callable.
    """
    if not isinstance(spec, str):
        return spec
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise StudyConfigError(f"objective {spec!r}: must be 'package.module:function'")
    for d in (str(Path.cwd()), str(base_dir) if base_dir else None):
        if d and d not in sys.path:
            sys.path.insert(0, d)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_absolute() and base_dir is not None and not path.exists():
                path = base_dir / path
            if not path.is_file():
                raise StudyConfigError(f"objective {spec!r}: file {module_name!r} not found")
            mod_spec = importlib.util.spec_from_file_location(path.stem, path)
            if mod_spec is None or mod_spec.loader is None:
                raise StudyConfigError(f"objective {spec!r}: cannot load {module_name!r}")
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[path.stem] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except StudyConfigError:
        raise
    except Exception as e:
        raise StudyConfigError(
            f"objective {spec!r}: cannot import {module_name!r} ({type(e).__name__}: {e}); "
            "it must be importable from the current directory"
        ) from None
    try:
        func = getattr(module, attr)
    except AttributeError:
        raise StudyConfigError(
            f"objective {spec!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None
    if not callable(func):
        raise StudyConfigError(f"objective {spec!r}: {attr!r} is not callable")
    return func  # type: ignore[no-any-return]
