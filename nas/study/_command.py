"""Command objectives: an external program evaluates each trial (``objective: {type: command}``).

The ``command`` objective type (:data:`~nas.study.OBJECTIVE_TYPES`) runs any program -- a
simulator, a training script in another language, a shell pipeline -- once per trial and reads
its result from stdout; :class:`CommandObjective` documents the whole contract. The process
mechanics (streaming stdout, a bounded stderr tail, deadlines, killing a process group) are in
:mod:`nas.study._program`; nothing here imports more than the standard library.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import shutil
import signal
import string
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nas.exceptions import StudyConfigError, TrialFailed, TrialPruned
from nas.study._program import STDERR_TAIL, Program

if TYPE_CHECKING:
    from collections.abc import Callable

    from nas._types import Objective
    from nas.space import SearchSpace
    from nas.study._study import Study
    from nas.study._trial import Trial

__all__ = ["BUILTIN_PLACEHOLDERS", "CommandObjective", "RESERVED_ENV"]

#: Placeholders every command may use besides the study's parameters.
BUILTIN_PLACEHOLDERS = ("budget", "trial_number", "python")
#: Environment variables set by ``nas`` for the program (``env`` may not set them).
RESERVED_ENV = (
    "NAS_PARAMS",
    "NAS_TRIAL_NUMBER",
    "NAS_STUDY",
    "NAS_BUDGET",
    "NAS_STORAGE",
    "NAS_DEVICE",
)
#: Default seconds between SIGTERM and SIGKILL.
DEFAULT_KILL_GRACE = 5.0
#: Programs whose first (non-option) argument is a script file that must exist.
_INTERPRETERS = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|bash|sh|zsh|node|Rscript|julia|ruby|perl)$"
)
_BUILTIN_SAMPLES: dict[str, list[Any]] = {
    "budget": [1, 1.5],
    "trial_number": [0],
    "python": [sys.executable],
}
_KEYS = ("type", "run", "timeout", "cwd", "env", "kill_grace")
_QUOTE_CHARS = 200


@dataclass(frozen=True)
class CommandObjective:
    """An external program as the objective: one process per trial (module docstring).

    Study file (``objective:``)::

        objective:
          type: command
          run: ["{python}", "sim.py", "--x", "{x}", "--epochs", "{budget}"]  # or one string
          timeout: 600          # optional: seconds per trial (default: none)
          cwd: programs         # optional: relative to the study file (default: its folder)
          env: {OMP_NUM_THREADS: 1}   # optional: extra environment variables
          kill_grace: 5         # optional: seconds between SIGTERM and SIGKILL (default 5)

    **The command.** ``run`` is a list of arguments, or one string split like a POSIX shell
    (:func:`shlex.split`) *before* placeholders are filled, so a value with spaces stays one
    argument. Each argument is a :meth:`str.format` template over the trial's parameters
    (``{x}``, ``{lr:.3g}``) and the built-ins ``{budget}`` (the trial's fidelity; an integral
    budget renders as an int, ``9`` not ``9.0``; empty without one), ``{trial_number}`` and
    ``{python}`` (the interpreter running ``nas``: a study file that says ``{python}`` runs in
    the worker's environment on every machine). ``{{``/``}}`` are literal braces; placeholders
    are plain names (no indexing or attributes; a parameter named like a built-in cannot be
    used). A placeholder that names nothing, or a format spec that cannot format the
    parameter's values, is a :class:`~nas.exceptions.StudyConfigError` when the study file is
    read. An *inactive* conditional parameter substitutes the empty string (``--momentum=``);
    the params JSON below holds only the active ones. Values render with :func:`format`
    (``0.001``, ``1e-05``, ``True``). No shell runs unless the command is one
    (``["sh", "-c", "... {x} ..."]``: quote substituted values yourself).

    **The program's input.** The trial's active params as one JSON object on stdin (then
    closed) and in the environment variable ``NAS_PARAMS``; also ``NAS_TRIAL_NUMBER``,
    ``NAS_STUDY``, ``NAS_BUDGET`` (when the trial has a budget), ``NAS_DEVICE`` (with
    ``--device``) and ``NAS_STORAGE`` (the study's database URL, only when it holds no
    password). It inherits the worker's environment plus ``env``; ``PYTHONUNBUFFERED=1`` is set
    unless ``env`` sets it, so a Python program's lines arrive as printed (flush stdout after
    each step line in other languages). It runs in ``cwd``, in a new session (its own process
    group).

    **The program's output.** Its *last* non-blank stdout line is the result: a JSON object
    objective name -> number (other numeric keys are the trial's metrics, as a Python
    objective's mapping), or a bare number in a one-objective study. Earlier stdout lines that
    are JSON objects with a ``step`` key are intermediate values (``{"step": 3, "loss": 0.4}``),
    reported as they arrive (:meth:`Trial.report`; a non-negative integer step, objective names
    only, finite numbers), each followed by :meth:`Trial.should_prune`. Other lines are
    ignored (logs). A last line that is a step line is also the result (without ``step``).

    **Outcomes.** Exit status 0 and a valid last line: COMPLETE. A pruned trial: the program's
    process group gets SIGTERM, SIGKILL after ``kill_grace``, and the trial is PRUNED. FAILED,
    with a reason that says why -- a non-zero exit status or a signal, ``timeout`` exceeded
    (the group is killed the same way), a bad last line (quoted), a bad step line (quoted), a
    program that cannot start -- followed by the last 4 KB of its stderr (no traceback);
    the study goes on. On Ctrl-C (``KeyboardInterrupt``) the group is killed before the
    interrupt propagates (the trial goes back to WAITING). When the program exits, whatever it
    left running in its process group is terminated too; a process that escapes the group
    (``setsid``) is not followed, and a worker killed with SIGKILL cannot stop its program
    (which then dies of SIGPIPE at its next line on stdout). POSIX only.

    **Checks.** When the study file is read: every key and value (unknown keys are refused,
    naming the valid ones), the placeholders against the search space, and the objective name
    ``step`` (reserved for step lines). Before anything is written (:meth:`validate`, on every
    machine that runs trials): ``cwd`` exists, the program (the first argument, unless it is a
    placeholder other than ``{python}``) is on ``PATH`` or a file relative to ``cwd``, and the
    script of a known interpreter (``python sim.py``, ``bash run.sh``, ...) exists.

    **Pinned in the study** (:func:`~nas.study.pin_objective`): ``run`` and ``env`` are what the
    trials depend on, so reopening the study with others is refused; ``timeout``, ``cwd`` and
    ``kill_grace`` say how and where it runs, may change, and the newest opener's are stored
    (``nas worker NAME`` uses those: ``cwd`` is stored absolute, so a machine that joins by name
    needs the same folder, else it joins with the study file of its own checkout).

    Build it with :meth:`parse` (a study file's mapping) or :meth:`from_definition`.

    Attributes:
        run: the argument templates.
        timeout: seconds a trial's program may run (``None``: no limit).
        cwd: the absolute folder it runs in.
        env: extra environment variables.
        kill_grace: seconds between SIGTERM and SIGKILL when it is stopped.
        device: ``--device``, passed as ``NAS_DEVICE`` (not part of the definition).
    """

    #: Trials of command studies carry parameters, not architectures.
    produces_architectures: ClassVar[bool] = False

    run: tuple[str, ...]
    timeout: float | None = None
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)
    kill_grace: float = DEFAULT_KILL_GRACE
    device: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "run", _check_run(self.run))
        object.__setattr__(self, "timeout", _check_seconds(self.timeout, "timeout", none=True))
        object.__setattr__(self, "cwd", _check_cwd(self.cwd))
        object.__setattr__(self, "env", _check_env(self.env))
        object.__setattr__(self, "kill_grace", _check_seconds(self.kill_grace, "kill_grace"))

    # ------------------------------------------------------------------ the objective type

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
    ) -> CommandObjective:
        """The objective of a study file's ``objective:`` mapping (class docstring for keys).

        Args:
            base_dir: the study file's folder: the default ``cwd``, and what a relative one is
                relative to (default: the current directory).

        Raises:
            StudyConfigError: an unknown or missing key, or a bad value; the message names the
                file and ``objective.<key>``.
        """
        unknown = sorted(set(map(str, data)) - set(_KEYS))
        if unknown:
            raise StudyConfigError(
                f"{source}: objective.{unknown[0]}: unknown key for a command objective; "
                f"valid keys: {', '.join(_KEYS)}"
            )
        if "run" not in data:
            raise StudyConfigError(
                f"{source}: objective.run: missing (required): the command, e.g. "
                '["python", "sim.py", "--x", "{x}"]'
            )
        base = (base_dir or Path.cwd()).resolve()
        run = data["run"]
        if isinstance(run, str):
            try:
                run = shlex.split(run)
            except ValueError as e:
                raise StudyConfigError(
                    f"{source}: objective.run: cannot split {run!r} into arguments ({e})"
                ) from None
        cwd = data.get("cwd")
        if cwd is not None and not isinstance(cwd, str | Path):
            raise StudyConfigError(f"{source}: objective.cwd: must be a folder, got {cwd!r}")
        try:
            return cls(
                run=run,
                timeout=data.get("timeout"),
                cwd=base if cwd is None else base / Path(cwd).expanduser(),
                env=data.get("env") or {},
                kill_grace=data.get("kill_grace", DEFAULT_KILL_GRACE),
            )
        except StudyConfigError as e:
            raise StudyConfigError(f"{source}: {e}") from None

    @classmethod
    def from_definition(
        cls, data: Mapping[str, Any], device: str | None = None
    ) -> CommandObjective:
        """Rebuild from :meth:`definition` (``device``: passed to the program as
        ``NAS_DEVICE``).

        Raises:
            StudyConfigError: not such a definition.
        """
        try:
            return cls(
                run=tuple(data["run"]),
                timeout=data.get("timeout"),
                cwd=Path(data["cwd"]),
                env=dict(data.get("env") or {}),
                kill_grace=data.get("kill_grace", DEFAULT_KILL_GRACE),
                device=device,
            )
        except (KeyError, TypeError, StudyConfigError) as e:
            raise StudyConfigError(f"not a command objective definition ({e})") from None

    def definition(self) -> dict[str, Any]:
        """JSON form stored in the study, with its ``type``; :meth:`from_definition` inverts
        it."""
        return {
            "type": "command",
            "run": list(self.run),
            "timeout": self.timeout,
            "cwd": str(self.cwd),
            "env": dict(self.env),
            "kill_grace": self.kill_grace,
        }

    def differences(self, stored: Mapping[str, Any], seed: int) -> list[str]:
        """The keys among ``run`` and ``env`` (what trial values depend on) in which a stored
        definition differs from this one; ``timeout``, ``cwd`` and ``kill_grace`` may change."""
        theirs = type(self).from_definition(stored)
        return [k for k in ("run", "env") if getattr(self, k) != getattr(theirs, k)]

    def check_objectives(self, objectives: Mapping[str, str], where: str = "objectives") -> None:
        """Refuse the objective name ``step`` (it marks step lines); any other name is the
        program's to print.

        Raises:
            StudyConfigError: an objective is named ``step``.
        """
        if "step" in objectives:
            raise StudyConfigError(
                f"{where}: 'step' cannot be an objective of a command objective (it marks the "
                "program's intermediate-value lines); rename it"
            )

    def study_space(
        self,
        *,
        space: SearchSpace | None,
        searcher: str,
        searcher_options: Mapping[str, Any],
        objectives: Sequence[Objective],
        source: str,
        build: Callable[[SearchSpace], Any] | None = None,
    ) -> tuple[CommandObjective, SearchSpace]:
        """The study file's own ``space`` (required), after checking the placeholders of
        ``run`` against it (:meth:`check_placeholders`).

        Raises:
            StudyConfigError: no ``space``, or a placeholder that names no parameter or whose
                format spec cannot format the parameter's values.
        """
        if space is None:
            raise StudyConfigError(
                f"{source}: space: missing (required with a command objective: the parameters "
                "its command receives)"
            )
        try:
            self.check_placeholders(space)
        except StudyConfigError as e:
            raise StudyConfigError(f"{source}: {e}") from None
        return self, space

    def check_placeholders(self, space: SearchSpace) -> None:
        """Every placeholder of ``run`` names a parameter of ``space`` or a built-in, and its
        format spec formats that parameter's values (its bounds, choices or value).

        Raises:
            StudyConfigError: ``objective.run[i]: ...`` naming the placeholder and the rule.
        """
        names = set(space.names)
        for i, token in enumerate(self.run):
            for name, spec, conversion in _fields(token):
                where = f"objective.run[{i}]"
                if name in BUILTIN_PLACEHOLDERS and name in names:
                    raise StudyConfigError(
                        f"{where}: {{{name}}} is ambiguous: the space has a parameter named "
                        f"{name!r}, which is also a built-in placeholder; rename the parameter"
                    )
                if name in BUILTIN_PLACEHOLDERS:
                    samples = _BUILTIN_SAMPLES[name]
                elif name in names:
                    samples = _samples(space[name].to_dict())
                else:
                    valid = ", ".join([*space.names, *BUILTIN_PLACEHOLDERS])
                    raise StudyConfigError(
                        f"{where}: {{{name}}} names no parameter of the search space; "
                        f"placeholders: {valid} (write {{{{ and }}}} for literal braces)"
                    )
                for value in samples:
                    try:
                        _FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), spec)
                    except (ValueError, TypeError) as e:
                        raise StudyConfigError(
                            f"{where}: {token!r} cannot format {name}={value!r} ({e})"
                        ) from None

    def validate(self) -> None:
        """Check what only this machine can tell, before anything is written: ``cwd`` is a
        folder, the program exists, and so does the script of a known interpreter.

        Raises:
            StudyConfigError: the message names the key and how to fix it.
        """
        if not self.cwd.is_dir():
            raise StudyConfigError(
                f"objective.cwd: {self.cwd} is not a folder on this machine (a study joined "
                "by name runs its program where the study file was; run `nas worker FILE` "
                "with the study file of this machine's checkout instead)"
            )
        program = self.run[0]
        if program == "{python}":
            program = sys.executable
        elif _fields(program):
            return  # chosen per trial
        located = self._locate(program)
        if located is None:
            where = "a file relative to objective.cwd" if "/" in program else "on PATH"
            raise StudyConfigError(
                f"objective.run[0]: program {program!r} not found ({where}; cwd "
                f"{self.cwd}); install it, or give its path (absolute, or relative to cwd)"
                + ("; for the Python running nas write {python}" if "python" in program else "")
            )
        script = next((a for a in self.run[1:] if not a.startswith("-")), None)
        if (
            _INTERPRETERS.match(Path(program).name)
            and script is not None
            and script == self.run[1]
            and not _fields(script)
            and not (self.cwd / script).expanduser().is_file()
        ):
            raise StudyConfigError(
                f"objective.run[1]: script {script!r} not found in {self.cwd} (objective.cwd; "
                "default: the study file's folder)"
            )

    def _locate(self, program: str) -> str | None:
        if "/" in program:
            path = self.cwd / Path(program).expanduser()
            return str(path) if path.is_file() and os.access(path, os.X_OK) else None
        path_var = self.env.get("PATH", os.environ.get("PATH", os.defpath))
        return shutil.which(program, path=path_var)

    def with_device(self, device: str) -> CommandObjective:
        """The same objective telling its program ``NAS_DEVICE=device``."""
        return dataclasses.replace(self, device=device)

    def prepare(self, study: Study, **hooks: Any) -> None:
        """Check the objective against ``study`` before its first trial (a study made with
        :func:`~nas.create_study` gets the checks of a study file here): objective names,
        placeholders, :meth:`validate`; then pin the definition. ``hooks`` are ignored.

        Raises:
            StudyConfigError: see :meth:`check_objectives`, :meth:`check_placeholders`,
                :meth:`validate`.
            IncompatibleStudyError: the study holds another command.
        """
        from nas.study._objectives import pin_objective

        self.check_objectives({o.name: o.direction for o in study.objectives})
        self.check_placeholders(study.space)
        self.validate()
        pin_objective(study, self)

    # ------------------------------------------------------------------ one trial

    def command(
        self,
        params: Mapping[str, Any],
        *,
        names: Sequence[str] = (),
        budget: float | None = None,
        trial_number: int = 0,
    ) -> list[str]:
        """The arguments for the active ``params`` of a space whose parameters are ``names``
        (a parameter of ``names`` missing from ``params`` is inactive: it renders empty).

        Raises:
            KeyError: a placeholder names neither a parameter nor a built-in (a study whose
                space was never checked, :meth:`check_placeholders`).
        """
        values: dict[str, Any] = dict.fromkeys(names, _INACTIVE)
        values.update(
            budget=_INACTIVE if budget is None else _budget_value(budget),
            trial_number=trial_number,
            python=sys.executable,
        )
        values.update(params)
        return [_FORMATTER.vformat(token, (), values) for token in self.run]

    def environment(self, trial: Trial) -> dict[str, str]:
        """The program's environment for ``trial`` (class docstring)."""
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        for key in RESERVED_ENV:
            env.pop(key, None)
        env.update(self.env)
        env["NAS_PARAMS"] = json.dumps(trial.params)
        env["NAS_TRIAL_NUMBER"] = str(trial.number)
        env["NAS_STUDY"] = trial.study.name
        if trial.budget is not None:
            env["NAS_BUDGET"] = str(_budget_value(trial.budget))
        if self.device is not None:
            env["NAS_DEVICE"] = self.device
        url = _url_without_password(trial.study.storage.url)
        if url is not None:
            env["NAS_STORAGE"] = url
        return env

    def __call__(self, trial: Trial) -> Any:
        """Run the program for ``trial``; its result mapping (or number).

        Raises:
            TrialPruned: the study's pruner stopped it (the program was terminated).
            TrialFailed: the program failed (the reason says why, with its stderr tail).
            KeyboardInterrupt: after the program was terminated.
        """
        try:
            argv = self.command(
                trial.params,
                names=trial.study.space.names,
                budget=trial.budget,
                trial_number=trial.number,
            )
        except KeyError as e:
            raise TrialFailed(
                f"objective.run: placeholder {{{e.args[0]}}} names no parameter of the study"
            ) from None
        shown = shlex.join(argv)
        stdin = (json.dumps(trial.params) + "\n").encode()
        try:
            program = Program(argv, self.cwd, self.environment(trial), stdin, self.kill_grace)
        except OSError as e:
            raise TrialFailed(f"command `{shown}` could not start: {e}") from None
        last = None
        with program:
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            for number, line in program.lines(deadline):
                text = line.strip()
                if not text:
                    continue
                last = (number, text)
                step = _step_line(text)
                if step is None:
                    continue
                if isinstance(step, str):
                    program.stop()
                    raise TrialFailed(
                        _reason(f"stdout line {number}: {step}: {_quote(text)}", shown, program)
                    )
                try:
                    trial.report(*step)
                except ValueError as e:
                    program.stop()
                    raise TrialFailed(
                        _reason(f"stdout line {number}: {_quote(text)}: {e}", shown, program)
                    ) from None
                if trial.should_prune():
                    program.stop()
                    why = trial.prune_reason or f"pruned at step {step[0]}"
                    raise TrialPruned(f"{why} (the program was terminated)")
        if program.timed_out:
            raise TrialFailed(
                _reason(
                    f"timed out after {self.timeout:g} s (objective.timeout); its process "
                    "group was killed",
                    shown,
                    program,
                )
            )
        code = program.returncode
        if code != 0:
            how = (
                f"was killed by signal {_signal_name(-code)}"
                if code is not None and code < 0
                else f"exited with status {code}"
            )
            raise TrialFailed(_reason(how, shown, program))
        return self._result(trial, last, shown, program)

    def _result(
        self, trial: Trial, last: tuple[int, str] | None, shown: str, program: Program
    ) -> Any:
        """The result of the program's last stdout line, checked like the runner will."""
        from nas.study._trial import normalize_result

        rule = (
            "its last stdout line must be a JSON object objective -> number"
            + (" (or a number)" if len(trial.study.objectives) == 1 else "")
            + f" for objectives {[o.name for o in trial.study.objectives]}"
        )
        if last is None:
            raise TrialFailed(_reason(f"printed nothing on stdout; {rule}", shown, program))
        number, text = last
        try:
            result = json.loads(text)
        except ValueError:
            result = None
        if isinstance(result, dict):
            result.pop("step", None)
        elif not _is_number(result):
            raise TrialFailed(
                _reason(f"{rule}; got (line {number}) {_quote(text)}", shown, program)
            )
        values, _, problem = normalize_result(result, [o.name for o in trial.study.objectives])
        if values is None:
            raise TrialFailed(
                _reason(f"{problem}; its last stdout line: {_quote(text)}", shown, program)
            )
        return result


# --------------------------------------------------------------------------- validation


def _check_run(run: Any) -> tuple[str, ...]:
    if isinstance(run, str) or not isinstance(run, Sequence) or not run:
        raise StudyConfigError(
            "objective.run: must be a non-empty list of arguments or a command string, got "
            f"{run!r}"
        )
    out = []
    for i, token in enumerate(run):
        if isinstance(token, bool) or not isinstance(token, str | int | float):
            raise StudyConfigError(
                f"objective.run[{i}]: must be a string (an argument), got {token!r}"
            )
        token = str(token)
        try:
            _fields(token)
        except ValueError as e:
            raise StudyConfigError(
                f"objective.run[{i}]: {token!r}: {e} (write {{{{ and }}}} for literal braces)"
            ) from None
        out.append(token)
    if not out[0]:
        raise StudyConfigError("objective.run[0]: the program is empty")
    return tuple(out)


def _fields(token: str) -> list[tuple[str, str, str | None]]:
    """The placeholders of ``token``: (name, format spec, conversion) each.

    Raises:
        ValueError: malformed braces, a positional, nested or indexed placeholder.
    """
    found = []
    for _, name, spec, conversion in string.Formatter().parse(token):
        if name is None:
            continue
        if not name or name.isdigit():
            raise ValueError("a placeholder must name a parameter ({x}), not be positional")
        if "{" in (spec or "") or "[" in name:
            raise ValueError(f"placeholder {{{name}}}: nested or indexed placeholders are refused")
        found.append((name, spec or "", conversion))
    return found


def _check_seconds(value: Any, key: str, *, none: bool = False) -> Any:
    if value is None and none:
        return None
    zero_ok = key == "kill_grace"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero_ok)
    ):
        rule = ">= 0" if zero_ok else "> 0"
        raise StudyConfigError(
            f"objective.{key}: must be a number of seconds {rule}, got {value!r}"
        )
    return float(value)


def _check_cwd(cwd: Any) -> Path:
    if not isinstance(cwd, str | Path) or not str(cwd):
        raise StudyConfigError(f"objective.cwd: must be a folder, got {cwd!r}")
    path = Path(cwd).expanduser()
    return path if path.is_absolute() else path.resolve()


def _check_env(env: Any) -> dict[str, str]:
    if not isinstance(env, Mapping):
        raise StudyConfigError(f"objective.env: must be a mapping NAME -> value, got {env!r}")
    out = {}
    for name, value in env.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise StudyConfigError(f"objective.env: {name!r} is not an environment variable name")
        if name in RESERVED_ENV:
            raise StudyConfigError(
                f"objective.env.{name}: set by nas for every trial; reserved: "
                f"{', '.join(RESERVED_ENV)}"
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise StudyConfigError(
                f"objective.env.{name}: must be a string or a number, got {value!r} (quote it)"
            )
        if "\0" in str(value):
            raise StudyConfigError(f"objective.env.{name}: contains a NUL character")
        out[name] = str(value)
    return out


def _samples(param: Mapping[str, Any]) -> list[Any]:
    """Representative values of a parameter (from its ``to_dict`` form) to try a format spec on."""
    values = [param[k] for k in ("low", "high", "value") if k in param]
    return values + list(param.get("choices", []))


# --------------------------------------------------------------------------- formatting


class _Inactive:
    """The value of a placeholder that renders empty (an inactive parameter, no budget)."""


_INACTIVE = _Inactive()


class _Formatter(string.Formatter):
    """:meth:`str.format_map` with plain names (``{lr.x}`` is the parameter ``lr.x``) and
    :data:`_INACTIVE` rendering empty whatever its spec."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return kwargs[field_name], field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if value is _INACTIVE:
            return value
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is _INACTIVE:
            return ""
        return format(value, format_spec)


_FORMATTER = _Formatter()


def _budget_value(budget: float) -> int | float:
    return int(budget) if float(budget).is_integer() else float(budget)


def _url_without_password(url: str) -> str | None:
    try:
        from sqlalchemy.engine import make_url

        return url if make_url(url).password is None else None
    except Exception:  # an unparsable URL is not passed on
        return None


# --------------------------------------------------------------------------- output


def _step_line(text: str) -> tuple[int, dict[str, Any]] | str | None:
    """``(step, values)`` of a step line, ``None`` for another line, or what is wrong with a
    step line."""
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "step" not in data:
        return None
    step = data.pop("step")
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return f"step must be a non-negative integer, got {step!r}"
    if not data:
        return "a step line needs objective values besides its step"
    return step, data


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _quote(text: str) -> str:
    return json.dumps(text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "...")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _reason(what: str, shown: str, program: Program) -> str:
    """A failure reason: what happened to the command, then its stderr tail."""
    tail = program.stderr_tail()
    if not tail.strip():
        return f"command `{shown}` {what}\n(its stderr was empty)"
    cut = program.stderr_bytes > STDERR_TAIL
    label = f"its stderr (last {STDERR_TAIL} bytes)" if cut else "its stderr"
    return f"command `{shown}` {what}\n--- {label} ---\n{tail.rstrip()}"
