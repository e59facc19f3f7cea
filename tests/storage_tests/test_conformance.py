"""The storage conformance suite, on SQLite and on PostgreSQL (``storage_url`` fixture)."""

from __future__ import annotations

from nas.testing.storage import StorageConformance


class TestStorageConformance(StorageConformance):
    pass
