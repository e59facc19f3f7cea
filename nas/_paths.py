"""Where a path written in a study file points."""

from __future__ import annotations

from pathlib import Path

__all__ = ["locate"]


def locate(value: str, base: Path) -> tuple[Path | None, list[Path]]:
    """Find the file ``value`` names: as given if absolute, else relative to ``base`` (the
    study file's folder), then to the current directory.

    Returns:
        ``(the first existing file or None, the candidates tried)`` -- the candidates are for an
        error message that says where it looked.
    """
    candidate = Path(value)
    tried = [candidate] if candidate.is_absolute() else [base / candidate, Path.cwd() / candidate]
    return next((p for p in tried if p.is_file()), None), tried
