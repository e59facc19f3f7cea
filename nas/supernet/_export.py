"""Export a NAS study's trial as a standalone network (``nas export``).

The trial's architecture goes through the study's evaluation interface
(:class:`~nas.supernet.ArchEvaluator`: the trained weights loaded from the database, batch norm
recalibrated as when the trial was measured) and is extracted into plain ``torch.nn`` modules.
``DIR`` receives:

* ``model.pt`` -- the extracted network's ``state_dict`` (load with :func:`load_subnet`);
* ``arch.json`` -- study, trial, params, objective values, metrics, the architecture space and
  the input shape: everything :func:`load_subnet` needs to rebuild the module;
* ``model.torchscript.pt`` -- TorchScript (``torch.jit.load``; no ``nas`` needed to run it);
* ``model.pt2`` -- a ``torch.export`` program with a dynamic batch dimension
  (``torch.export.load(path).module()``), TorchScript's successor.

Before returning, every written model is loaded back and checked to compute the same outputs
as the supernet with that architecture on validation images.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas._types import TrialState
from nas.exceptions import NasError

if TYPE_CHECKING:
    from torch import nn

    from nas.study import Study

__all__ = ["ExportError", "ExportedSubnet", "export_subnet", "load_subnet"]

FORMAT = "nas-subnet/1"


class ExportError(NasError, ValueError):
    """The trial cannot be exported (not a supernet study, no such trial, not complete, ...)."""


@dataclass(frozen=True)
class ExportedSubnet:
    """Paths written by :func:`export_subnet`."""

    directory: Path
    state_dict: Path
    arch_json: Path
    torchscript: Path
    exported_program: Path | None


def export_subnet(
    study: Study,
    number: int,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    exported_program: bool = True,
) -> ExportedSubnet:
    """Write trial ``number`` of the NAS study ``study`` to ``out_dir`` (module docstring).

    Args:
        study: a study whose objective was a supernet (it has the ``nas.supernet`` attribute
            and trained weights in its database).
        number: the trial number; the trial must be COMPLETE.
        out_dir: created if missing; files of the same names are overwritten.
        device: where the supernet is loaded for recalibration (the files are CPU tensors).
        exported_program: also write ``model.pt2`` (``torch.export``; a few seconds).

    Raises:
        ExportError: not a supernet study, no trial ``number``, or the trial is not COMPLETE,
            or a written model does not reproduce the supernet's outputs.
        SupernetNotTrainedError: the study has no trained supernet.
        OSError: ``out_dir`` cannot be written.
    """
    import torch

    from nas.study._objectives import objective_from_definition, stored_definition

    definition = stored_definition(study.user_attrs)
    if definition is None or not hasattr(
        objective := objective_from_definition(definition, device=device), "evaluator"
    ):
        raise ExportError(
            f"study {study.name!r} is not a NAS study (no supernet objective); only trials of "
            "studies with `objective: {type: supernet, ...}` can be exported"
        )
    trials = study.trials
    if isinstance(number, bool) or not 0 <= number < len(trials):
        raise ExportError(
            f"study {study.name!r} has no trial {number} (trials are 0..{len(trials) - 1})"
        )
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        raise ExportError(
            f"trial {number} of study {study.name!r} is {trial.state}; only COMPLETE trials "
            "can be exported"
        )
    objective.prepare(study, train=False)
    space = objective.space
    arch = space.arch(trial.params)
    evaluator = objective.evaluator(study)
    net = evaluator.network(arch)
    data = objective.data(study)
    x = data.x_val[:64].cpu()
    with torch.no_grad():
        expected = net(x.to(evaluator.device)).cpu()
    model = evaluator.extract(arch).cpu().eval()

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ExportedSubnet(
        directory=out,
        state_dict=out / "model.pt",
        arch_json=out / "arch.json",
        torchscript=out / "model.torchscript.pt",
        exported_program=(out / "model.pt2") if exported_program else None,
    )
    torch.save(model.state_dict(), paths.state_dict)
    meta = {
        "format": FORMAT,
        "study": study.name,
        "trial": number,
        "params": dict(trial.params),
        "values": dict(trial.values),
        "metrics": trial.user_attrs.get("metrics"),
        "input_shape": list(data.input_shape),
        "classes": space.classes,
        "space": space.to_dict(),
        "dataset": objective.dataset,
        "files": {
            "state_dict": paths.state_dict.name,
            "torchscript": paths.torchscript.name,
            "exported_program": paths.exported_program.name if paths.exported_program else None,
        },
    }
    paths.arch_json.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the format
        warnings.simplefilter(
            "ignore", DeprecationWarning
        )  # asked for; model.pt2 is the successor
        torch.jit.script(model).save(str(paths.torchscript))
        loaded_ts = torch.jit.load(str(paths.torchscript))
    checks: list[tuple[str, Any]] = [
        ("model.pt", load_subnet(out)),
        ("model.torchscript.pt", loaded_ts),
    ]
    if paths.exported_program is not None:
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, paths.exported_program)
        checks.append(("model.pt2", torch.export.load(paths.exported_program).module()))
    with torch.no_grad():
        for name, module in checks:
            got = module(x)
            if not torch.allclose(got, expected, atol=1e-5, rtol=1e-4):
                diff = float((got - expected).abs().max())
                raise ExportError(
                    f"{out / name}: outputs differ from the supernet's by up to {diff:.3g}"
                )
    return paths


def load_subnet(directory: str | Path) -> nn.Module:
    """Rebuild the network written by :func:`export_subnet` (eval mode, on CPU).

    Raises:
        ExportError: ``directory`` lacks ``arch.json`` / ``model.pt`` or they do not match.
    """
    import torch

    from nas.space import ArchSpace
    from nas.supernet._network import Supernet

    d = Path(directory)
    try:
        meta = json.loads((d / "arch.json").read_text())
        if meta.get("format") != FORMAT:
            raise ExportError(f"{d / 'arch.json'}: format {meta.get('format')!r}, not {FORMAT}")
        space = ArchSpace.from_dict(meta["space"], source=str(d / "arch.json"))
        arch = space.arch(meta["params"])
        state = torch.load(d / meta["files"]["state_dict"], map_location="cpu", weights_only=True)
    except OSError as e:
        raise ExportError(f"{d}: not an exported subnet ({e.strerror or e})") from None
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ExportError):
            raise
        raise ExportError(f"{d}: not an exported subnet ({e!r})") from None
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten anyway
        model = Supernet(space).extract(arch)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ExportError(f"{d}: model.pt does not match arch.json ({e})") from None
    return model.eval()
