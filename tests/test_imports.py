"""Heavy imports only where used: torch and botorch stay out of the light entry points.

Each check runs in a fresh interpreter and asserts on ``sys.modules`` at its end, so that an
import added anywhere along the path (a module-level ``import torch`` in something the CLI or
the space parser touches) fails here.

``import nas`` and ``import nas.<subpackage>`` import nothing but the package itself: the public
names are lazy re-exports (:mod:`nas._lazy`), resolved on first access. The checks below also
hold those names to the eager behaviour -- every name of every ``__all__`` resolves, ``dir()``
lists it, ``from nas import X`` and pickling work -- and keep each package's lazy table equal to
the ``if TYPE_CHECKING:`` imports that type checkers read. No timing is asserted here
(``benchmarks/startup.py`` measures it).
"""

from __future__ import annotations

import ast
import importlib
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "botorch", "plotly")

#: Nothing an ``import nas`` (or of a subpackage) may load: the database layer, the numerical
#: stack, the model and plotting libraries, the dashboard's server.
IMPORT_HEAVY = (
    "sqlalchemy",
    "alembic",
    "torch",
    "botorch",
    "gpytorch",
    "plotly",
    "fastapi",
    "starlette",
    "uvicorn",
    "pandas",
    "scipy",
    "sklearn",
    "numpy",
    "yaml",
    "optuna",
)
#: What ``nas --help`` (and ``nas VERB --help``) may not load: it parses no study and opens no
#: database (and prints through typer alone: rich loads when a command prints).
HELP_HEAVY = ("rich", *(m for m in IMPORT_HEAVY if m not in {"yaml", "optuna"}))
#: Every package whose ``__init__`` re-exports lazily.
LAZY_PACKAGES = (
    "nas",
    "nas.benchmarks",
    "nas.dashboard",
    "nas.pruners",
    "nas.searchers",
    "nas.space",
    "nas.storage",
    "nas.study",
    "nas.supernet",
)
#: Every command and group of the CLI (``--help`` of each).
VERBS = (
    [],
    ["run"],
    ["worker"],
    ["ask"],
    ["report"],
    ["tell"],
    ["studies"],
    ["trials"],
    ["pareto"],
    ["splits"],
    ["export"],
    ["delete"],
    ["import"],
    ["copy"],
    ["dashboard"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["bench"],
    ["bench", "ranking"],
    ["bench", "splits"],
    ["bench", "quant"],
)


def _run(code: str, cwd: Path | None = None, heavy: tuple[str, ...] = HEAVY) -> None:
    check = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import sys
        loaded = [m for m in {heavy!r} if m in sys.modules]
        assert not loaded, f"imported {{loaded}}"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_nas() -> None:
    # pandas too: only Study.to_dataframe needs it, and imports it when called.
    _run(
        "import nas, nas.space, nas.study, nas.supernet, nas.searchers",
        heavy=(*HEAVY, "pandas"),
    )


def test_cli_help_and_studies(tmp_path: Path) -> None:
    # Every command module is imported by `nas --help`: none may load the dashboard's server
    # (fastapi, uvicorn) or the training machinery at import.
    _run(
        f"""
        from nas.cli import main
        for argv in (["--help"], ["run", "--help"], ["worker", "--help"],
                     ["bench", "ranking", "--help"], ["bench", "splits", "--help"],
                     ["bench", "quant", "--help"], ["splits", "--help"], ["dashboard", "--help"],
                     ["export", "--help"], ["ask", "--help"], ["tell", "--help"],
                     ["studies", "--storage", "sqlite:///{tmp_path}/x.db"]):
            try:
                main(argv)
            except SystemExit as e:
                assert e.code == 0, (argv, e.code)
        """,
        heavy=(*HEAVY, "fastapi", "uvicorn"),
    )


def test_a_bad_value_is_refused_without_heavy_imports(tmp_path: Path) -> None:
    # `nas run FILE --timeout 0` of a plain-function study: refused by the study entry
    # before any objective machinery is needed.
    (tmp_path / "s.yaml").write_text(
        "name: s\nspace: {params: {x: {type: float, low: 0.0, high: 1.0}}}\n"
        "objective: nas.benchmarks.functions:branin_objective\nobjectives: {v: minimize}\n"
    )
    _run(
        f"""
        from nas.cli import main
        try:
            main(["run", {str(tmp_path / "s.yaml")!r}, "--timeout", "0"])
        except SystemExit as e:
            assert e.code == 2, e.code
        """,
        heavy=(*HEAVY, "fastapi", "uvicorn"),
    )


@pytest.mark.parametrize(
    "path",
    [
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "search_spaces").glob("*.yaml")),
        "benchmarks/ranking_space.yaml",
    ],
)
def test_parsing_any_search_space(path: str) -> None:
    _run(
        f"""
        from nas.space import SearchSpace, load_space
        SearchSpace.from_yaml({path!r})
        load_space({path!r}, source="t")
        """,
        cwd=ROOT,
    )


def test_parsing_every_study_file() -> None:
    # Study files name objectives of every type: typed ones are parsed without their heavy
    # machinery (a supernet objective imports torch when it trains, not when it is read).
    _run(
        """
        from pathlib import Path
        from nas.study import load_study_config
        for f in sorted(Path("studies").glob("*.yaml")):
            load_study_config(f)
        """,
        cwd=ROOT,
    )


def test_dashboard_server_start(tmp_path: Path) -> None:
    # A NAS study in the database: the dashboard asks its objective type whether it has
    # architectures, which must not load the type's training machinery. (The dashboard serves
    # plotly.js from the plotly package, so plotly may load.)
    _run(
        f"""
        import nas
        from fastapi.testclient import TestClient
        from nas.dashboard import create_app
        url = "sqlite:///{tmp_path}/d.db"
        study = nas.create_study("s", {{"params": {{"x": {{"type": "float", "low": 0, "high": 1}}}}}},
                                 {{"v": "minimize"}}, storage=url)
        study.set_user_attr("nas.objective", {{"type": "supernet"}})
        client = TestClient(create_app(url, allowed_hosts=("testserver",)))
        assert client.get("/api/studies").status_code == 200
        assert client.get(f"/api/studies/{{study.study_id}}").json()["is_nas"] is True
        """,
        heavy=("torch", "botorch"),
    )


def test_import_nas_and_its_packages_loads_nothing_heavy() -> None:
    _run(f"import {', '.join(LAZY_PACKAGES)}", heavy=IMPORT_HEAVY)


def test_import_nas_loads_no_other_nas_module() -> None:
    _run(
        """
        import sys
        import nas
        assert nas.__version__
        extra = sorted(m for m in sys.modules if m.startswith("nas.") and m != "nas._lazy")
        assert not extra, extra
        """
    )


def test_help_of_every_command_loads_nothing_heavy() -> None:
    # `python -m nas --help`: the console script's path (nas.__main__ -> nas.cli.main).
    done = subprocess.run(
        [sys.executable, "-m", "nas", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage: nas" in done.stdout and "dashboard" in done.stdout
    _run(
        f"""
        import contextlib, io
        from nas.cli import main
        for argv in {VERBS!r}:
            with contextlib.redirect_stdout(io.StringIO()) as text:
                try:
                    main([*argv, "--help"])
                except SystemExit as e:
                    assert e.code == 0, (argv, e.code)
            assert "Usage: nas" in text.getvalue(), argv
        """,
        heavy=HELP_HEAVY,
    )


def test_bench_choices_list_the_registries_without_their_modules() -> None:
    # The --sampler and --policy choices are the registries' names, built-ins registered by
    # name (nas.supernet._plugins): the sampler and policy modules (numpy) load on lookup.
    _run(
        """
        import sys
        from nas.supernet import PATH_SAMPLERS, SPLIT_POLICIES
        assert PATH_SAMPLERS.names()[:3] == ["uniform", "sandwich", "pada"]
        assert SPLIT_POLICIES.names()[:4] == ["none", "exhaustive", "random", "gm"]
        assert "nas.supernet._samplers" not in sys.modules
        assert "nas.supernet._splits" not in sys.modules
        """,
        heavy=HELP_HEAVY,
    )


def test_registries_resolve_their_built_ins() -> None:
    from nas.supernet import PATH_SAMPLERS, SPLIT_POLICIES, UniformSampler
    from nas.supernet._splits import GradientMatchingSplit

    assert PATH_SAMPLERS.get("uniform") is UniformSampler
    assert SPLIT_POLICIES.get("gm") is GradientMatchingSplit
    assert all(isinstance(cls, type) for _, cls in PATH_SAMPLERS.items())
    assert all(isinstance(cls, type) for _, cls in SPLIT_POLICIES.items())


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    listed = dir(module)
    for name in module.__all__:
        assert name in listed, name
        value = getattr(module, name)
        # ``from package import name`` goes through the same hook.
        namespace: dict[str, object] = {}
        exec(f"from {package} import {name}", namespace)
        assert namespace[name] is value, name
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec(f"from {package} import no_such_name", {})


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_table_matches_the_type_checking_imports(package: str) -> None:
    """The names type checkers see (the ``if TYPE_CHECKING:`` imports) are exactly the names
    imported lazily, from the same modules; with the package's own definitions they are its
    ``__all__``."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__ or "").read_text())
    typed: dict[str, str] = {}
    lazy: dict[str, str] = {}
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            assert node.test.id == "TYPE_CHECKING"
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and (imp.module or "").startswith("nas"):
                    typed.update((a.asname or a.name, imp.module or "") for a in imp.names)
            (call,) = [n.value for n in node.orelse if isinstance(n, ast.Assign)]
            assert isinstance(call, ast.Call) and isinstance(call.args[1], ast.Dict)
            for key, names in zip(call.args[1].keys, call.args[1].values, strict=True):
                assert isinstance(key, ast.Constant) and isinstance(names, ast.List)
                lazy.update((ast.literal_eval(n), key.value) for n in names.elts)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    # (A TYPE_CHECKING import of a name the package does not export is for annotations.)
    assert {k: v for k, v in typed.items() if k in module.__all__} == lazy
    assert set(module.__all__) == (set(lazy) | defined) & set(module.__all__)
    assert set(lazy) <= set(module.__all__)


def test_lazy_names_pickle_and_keep_their_module() -> None:
    import nas
    import nas.study

    assert nas.Study is nas.study.Study
    assert nas.Study.__module__ == "nas.study._study"
    assert nas.SearchSpace.__module__ == "nas.space._space"
    assert pickle.loads(pickle.dumps(nas.TrialState.COMPLETE)) is nas.TrialState.COMPLETE
    space = nas.SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0, "high": 1}}})
    assert pickle.loads(pickle.dumps(space)) == space


def test_reload_keeps_the_names() -> None:
    _run(
        """
        import importlib
        import nas
        study = nas.Study
        reloaded = importlib.reload(nas)
        assert reloaded is nas and nas.Study is study and "Study" in dir(nas)
        import nas.supernet
        importlib.reload(nas.supernet)
        assert nas.supernet.ArchSpace is nas.space.ArchSpace
        """
    )


def test_python_m_nas_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nas", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith("nas ")


def test_a_searcher_imports_only_its_module() -> None:
    _run(
        """
        import sys
        import nas
        from nas.searchers import create_searcher, searcher_names
        assert "bohb" in searcher_names() and "nas.searchers._bohb" not in sys.modules
        study = nas.create_study(
            "s", {"params": {"x": {"type": "float", "low": 0, "high": 1}}}, {"v": "minimize"},
            storage="sqlite://", searcher="random",
        )
        study.optimize(lambda t: t.params["x"], n_trials=3)
        """,
        heavy=(*HEAVY, "scipy", "sklearn", "gpytorch", "optuna", "pandas"),
    )


def test_the_built_in_searchers_table_matches_their_registrations() -> None:
    from nas.searchers import _registry

    _registry._load_builtins()
    builtin = {
        name: cls.__module__
        for name, cls in _registry._REGISTRY.items()
        if cls.__module__.startswith("nas.searchers.")
    }
    assert builtin == _registry._BUILTINS
    with pytest.raises(ValueError, match="already registered"):

        @_registry.register_searcher("random")
        class Mine(_registry._REGISTRY["random"]):  # type: ignore[misc,valid-type]
            pass
