"""Storage URL constants needed without a database: the command line's option defaults and
help texts read them when ``nas --help`` builds, so this module imports no SQLAlchemy (URL
parsing and masking, which need it, are in :mod:`nas.storage._engine`)."""

from __future__ import annotations

__all__ = ["DEFAULT_URL"]

#: The storage used when none is given: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///nas.db"
