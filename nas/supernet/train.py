"""Train the supernet of a NAS study, in one process or data-parallel over several::

    python -m nas.supernet.train STUDY.yaml [--storage URL] [--device cpu|cuda]
    torchrun --nproc_per_node N -m nas.supernet.train STUDY.yaml --storage URL

The study file is opened as ``nas run`` opens it (:func:`nas.study.plan_study`, then
:meth:`~nas.study.StudyPlan.open` on rank 0 first: its study is created with its run attributes,
or reopened when it exists); the supernet is trained and stored in the study's database by
:meth:`~nas.supernet.SupernetObjective.prepare` (resuming from the study's last checkpoint), and
the command exits. ``nas run STUDY.yaml`` or ``nas worker`` then load the weights and go
straight to the trials.

Under ``torchrun`` (``RANK`` and ``WORLD_SIZE`` in the environment, ``WORLD_SIZE > 1``) the
process group is initialised from the environment: ``gloo`` on CPU, ``nccl`` on CUDA, where each
process uses ``cuda:LOCAL_RANK`` (whatever index ``--device`` or ``objective.device`` names).
Every process trains its slice of each batch (:class:`~nas.supernet.SupernetTrainer`); rank 0
alone writes to the database and reports progress. The storage must be reachable by every
process (SQLite on one machine, PostgreSQL across machines). Without ``torchrun`` the supernet
trains in this one process.

Errors (a bad study file, an objective that is not a supernet, a missing device or data set, a
process group that cannot start) are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from nas.exceptions import NasError

__all__ = ["main"]


class _UsageError(NasError):
    """Bad command-line arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see `python -m nas.supernet.train --help`)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m nas.supernet.train",
        description="Train the supernet of a NAS study file into its database (one process, "
        "or one per device under `torchrun --nproc_per_node N -m nas.supernet.train`), then "
        "run its trials with `nas run` or `nas worker`.",
    )
    p.add_argument("file", type=Path, metavar="STUDY.yaml", help="Study YAML file.")
    p.add_argument(
        "--storage",
        default=os.environ.get("NAS_STORAGE"),
        help="Database URL (default: the file's storage, else sqlite:///nas.db; env NAS_STORAGE).",
    )
    p.add_argument(
        "--device",
        help="cpu or cuda (overrides objective.device); under torchrun each process uses "
        "cuda:LOCAL_RANK.",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="No progress lines.")
    return p


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise NasError(f"environment variable {name}={value!r} is not an integer") from None


def _train(args: argparse.Namespace) -> None:
    import torch

    from nas.study import load_study_config, plan_study
    from nas.supernet._distributed import barrier, is_main_process, main_first

    launched = "RANK" in os.environ
    world = _env_int("WORLD_SIZE", 1) if launched else 1
    local_rank = _env_int("LOCAL_RANK", 0)
    cfg = load_study_config(args.file)
    if not callable(getattr(cfg.objective, "train_config", None)):  # a typed objective that trains
        raise NasError(
            f"{args.file}: objective is not a supernet (objective: {{type: supernet}}); "
            "there is nothing to train"
        )
    device = args.device or cfg.objective.device  # type: ignore[union-attr]
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = ""  # the plan below names the bad device
    if world > 1 and kind == "cuda":
        device = f"cuda:{local_rank}"
    # Everything checked on every process -- the overrides, the device, the data set -- and the
    # searcher built, before the process group starts and before anything is written.
    plan = plan_study(
        cfg,
        storage=args.storage,
        device=None if device == cfg.objective.device else device,  # type: ignore[union-attr]
        flags=True,
    )
    objective = plan.objective
    started = False
    if world > 1:
        import torch.distributed as dist

        backend = "nccl" if kind == "cuda" else "gloo"
        if kind == "cuda":
            torch.cuda.set_device(torch.device(device))
        try:
            dist.init_process_group(backend)
        except (RuntimeError, ValueError) as e:
            raise NasError(
                f"cannot start the {backend} process group of {world} processes: "
                f"{_one_line(str(e))}"
            ) from None
        started = True
    try:
        is_main = is_main_process()
        url = plan.storage if isinstance(plan.storage, str) else plan.storage.url

        # Rank 0 creates the study with its run attributes (for `nas worker NAME`), the others
        # then open it and check the pinned objective.
        study = main_first(lambda: plan.open(record=is_main_process()).study)

        def progress(done: int, total: int, record: Mapping[str, float]) -> None:
            sys.stderr.write(f"epoch {done}/{total}: loss {record['loss']:.4f}\n")
            sys.stderr.flush()

        quiet = args.quiet or not is_main
        objective.prepare(study, on_epoch=None if quiet else progress)
        if is_main and not args.quiet:
            config = objective.train_config(study.seed)
            budget = f"{config.epochs} epochs" if config.steps is None else f"{config.steps} steps"
            sys.stdout.write(
                f"supernet of study {study.name!r} trained ({budget}, {world} "
                f"process{'es' if world > 1 else ''}) in {url}; "
                f"`nas run {args.file}` or `nas worker {args.file}` now runs its trials\n"
            )
        if started:
            # Every process past its last collective before any tears the group down (gloo's
            # threads otherwise abort a process that is still draining: "terminate called
            # without an active exception", seen about once in ten runs).
            barrier()
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (module docstring); returns the exit status: 0, 2 on an error (one line on
    stderr), 130 when interrupted."""
    try:
        _train(_parser().parse_args(argv))
    except NasError as e:
        sys.stderr.write(f"error: {_one_line(str(e))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    status = main()
    # Everything is written and committed by now; leave without the interpreter's teardown,
    # where gloo's background threads can still abort a process that has just destroyed its
    # group ("terminate called without an active exception", seen under load).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
