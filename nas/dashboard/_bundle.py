"""The plotly.js the dashboard serves: a partial bundle vendored in ``static/vendor/plotly``.

``scripts/plotly_bundle/build.mjs`` (``make plotly-bundle``) builds it from npm packages pinned in
that folder's ``package-lock.json``, and it is committed with its licences (see the folder's
``README.md``); nothing is downloaded at run time. It is a set of ES modules sharing one plotly.js
instance: the main entry registers the trace types the pages draw, and further entries register
more trace types into that instance (scatter3d, whose WebGL engine costs more to evaluate than
all the rest), imported by a page only when it draws one. ``manifest.json``, written by the
build, says which entry registers which trace types, what each entry imports and every file's
SHA-256; the server reads the bundle through it only.

Served under a URL holding the plotly.js version and a digest of the files, so that browsers may
cache the files for good (``immutable``) and a rebuilt bundle gets a new URL.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["PlotlyBundle", "load_bundle"]

VENDOR = Path(str(resources.files("nas.dashboard") / "static" / "vendor" / "plotly"))


@dataclass(frozen=True)
class PlotlyBundle:
    """The vendored bundle as its manifest describes it.

    Attributes:
        directory: where the files are.
        version: the plotly.js version.
        main: file name of the entry every page with a plot imports.
        traces: trace types per entry file (the main entry's include plotly.js's core, scatter).
        imports: the files each entry imports statically (preloaded with it).
        files: SHA-256 (hex) per served file name.
    """

    directory: Path
    version: str
    main: str
    traces: dict[str, tuple[str, ...]]
    imports: dict[str, tuple[str, ...]]
    files: dict[str, str]
    _cache: dict[str, tuple[bytes, bytes]] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def tag(self) -> str:
        """``<version>-<digest of every file's digest>``: changes whenever a file does."""
        digest = hashlib.sha256("".join(sorted(self.files.values())).encode()).hexdigest()
        return f"{self.version}-{digest[:10]}"

    @property
    def base_url(self) -> str:
        return f"/static/vendor/plotly-{self.tag}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def preload_urls(self) -> list[str]:
        """The main entry and what it imports: what a page with plots fetches up front."""
        return [self.url(self.main), *(self.url(f) for f in self.imports[self.main])]

    def client_config(self) -> dict[str, Any]:
        """What the pages' scripts need: the main entry's URL and trace types, and for every
        other trace type the URL of the entry that registers it."""
        more = {
            trace: self.url(entry)
            for entry, traces in self.traces.items()
            if entry != self.main
            for trace in traces
        }
        return {"url": self.url(self.main), "traces": list(self.traces[self.main]), "more": more}

    def load(self, name: str) -> tuple[bytes, bytes]:
        """(raw, gzip-compressed) bytes of one served file, compressed once per process.

        Raises:
            KeyError: ``name`` is not a file of the bundle.
        """
        if name not in self.files:
            raise KeyError(name)
        with self._lock:
            if name not in self._cache:
                raw = (self.directory / name).read_bytes()
                self._cache[name] = (raw, gzip.compress(raw, compresslevel=6, mtime=0))
            return self._cache[name]

    def warm(self) -> None:
        """Compress the files the pages fetch first (call it in a background thread)."""
        for url in self.preload_urls():
            self.load(url.rsplit("/", 1)[1])


def load_bundle(directory: Path = VENDOR) -> PlotlyBundle:
    """The bundle in ``directory``, from its ``manifest.json`` (files are read when served)."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest["entries"]
    return PlotlyBundle(
        directory=directory,
        version=manifest["plotly.js"],
        main=manifest["main"],
        traces={name: tuple(e["traces"]) for name, e in entries.items()},
        imports={name: tuple(e["imports"]) for name, e in entries.items()},
        files={name: f["sha256"] for name, f in manifest["files"].items()},
    )
