"""The ``nas`` command line: thin wrappers over the study and storage APIs."""

from __future__ import annotations

from nas.cli._app import app, main

__all__ = ["app", "main"]
