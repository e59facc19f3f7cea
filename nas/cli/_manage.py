"""Changing what a study holds: ``nas export`` (a NAS trial's network, via
:func:`nas.supernet.export_subnet`) and ``nas delete`` (:func:`nas.study.delete_study`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas.cli._app import StorageOpt, app, err, out, storage_url
from nas.exceptions import NasError

__all__ = ["delete", "export"]


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="Study name (a NAS study).", show_default=False)],
    trial: Annotated[int, typer.Option("--trial", min=0, help="Trial number to export.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write (created).")],
    storage: StorageOpt = None,
    device: Annotated[
        str, typer.Option("--device", help="Where the supernet is loaded (cpu, cuda).")
    ] = "cpu",
    pt2: Annotated[
        bool, typer.Option("--pt2/--no-pt2", help="Also write a torch.export program.")
    ] = True,
) -> None:
    """Write a NAS trial's network: state dict, architecture JSON, TorchScript (and .pt2)."""
    from nas.study import load_study
    from nas.supernet import check_device, export_subnet

    study = load_study(name, storage_url(storage))
    check_device(device, "--device")
    try:
        paths = export_subnet(study, trial, out_dir, device=device, exported_program=pt2)
    except OSError as e:
        raise NasError(f"cannot write {out_dir}: {e.strerror or e}") from None
    written = [paths.state_dict, paths.arch_json, paths.torchscript]
    if paths.exported_program is not None:
        written.append(paths.exported_program)
    for p in written:
        out().print(str(p), highlight=False)


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Study name.", show_default=False)],
    storage: StorageOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a study and all its trials."""
    from nas.study import delete_study, load_study

    url = storage_url(storage)
    load_study(name, url)  # raises a clear error if missing
    if not yes and not typer.confirm(f"delete study {name!r} and all its trials from {url}?"):
        raise typer.Exit(1)
    delete_study(name, url)
    err().print(f"deleted study {name!r}", highlight=False)
