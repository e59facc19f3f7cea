"""The vendored plotly.js bundle (``nas/dashboard/static/vendor/plotly``): its files are the ones
its manifest names, byte for byte, with their licences; it registers every trace type the pages'
scripts draw and no other; and nothing the dashboard ships refers to another origin (no CDN).

That each trace type really draws in a browser, under the pages' Content-Security-Policy, is
``test_browser.py``'s ``test_every_bundled_trace_type_draws``; that the wheel carries the files,
``tests/test_packaging.py``.
"""

from __future__ import annotations

import hashlib
import re

import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from nas.dashboard._bundle import VENDOR, load_bundle

STATIC = VENDOR.parents[1]
#: The dashboard's own static files (pages, scripts, style), not the vendored ones.
OWN = sorted(p for p in STATIC.rglob("*") if p.is_file() and STATIC / "vendor" not in p.parents)
GENERATED = {"manifest.json", "LICENSE.txt", "THIRD-PARTY-LICENSES.txt"}


def _plotly_trace_types() -> set[str]:
    """Every trace type plotly knows (from the Python package's figure classes)."""
    classes = [getattr(go, name) for name in dir(go)]  # go imports its classes lazily
    return {
        cls().type
        for cls in classes
        if isinstance(cls, type) and issubclass(cls, BaseTraceType) and cls is not BaseTraceType
    }


def used_trace_types() -> set[str]:
    """Trace types the pages' scripts can draw: every string literal of theirs that is a plotly
    trace type (conservative: a type named in a comment counts too)."""
    types = _plotly_trace_types()
    found: set[str] = set()
    for path in OWN:
        if path.suffix == ".js":
            found |= set(re.findall(r"[\"'`]([a-z0-9]+)[\"'`]", path.read_text())) & types
    return found


def test_the_files_are_the_manifests_with_their_licences():
    bundle = load_bundle()
    assert {p.name for p in VENDOR.iterdir()} == set(bundle.files) | GENERATED | {"README.md"}
    for name, digest in bundle.files.items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} differs from manifest.json"
        head = data[:400].decode()
        assert f"plotly.js v{bundle.version}" in head and "MIT license" in head, name
    assert bundle.main in bundle.traces
    for entry, imports in bundle.imports.items():
        assert entry in bundle.files and set(imports) <= set(bundle.files), entry
    assert "Plotly" in (VENDOR / "LICENSE.txt").read_text()
    notices = (VENDOR / "THIRD-PARTY-LICENSES.txt").read_text()
    assert "@plotly/d3@" in notices and "@plotly/regl@" in notices
    # The README states the version it describes (and how to rebuild).
    readme = (VENDOR / "README.md").read_text()
    assert f"plotly.js {bundle.version}" in readme.splitlines()[0]
    assert "make plotly-bundle" in readme


def test_the_bundle_registers_exactly_the_trace_types_the_pages_draw():
    used = used_trace_types()
    # the scan does see the pages' types (history, front, 3-D front, importance, parallel
    # coordinates, split distances)
    assert {"scatter", "scattergl", "scatter3d", "bar", "parcoords", "heatmap"} <= used
    bundle = load_bundle()
    registered = {t for traces in bundle.traces.values() for t in traces}
    assert used <= registered, f"not in the bundle (scripts/plotly_bundle): {used - registered}"
    # each bundled type costs evaluation time on every cold page load
    assert registered <= used, f"bundled but drawn by no page: {registered - used}"
    # only one entry per type, and the main entry is the one every page with a plot imports
    counted = [t for traces in bundle.traces.values() for t in traces]
    assert len(counted) == len(set(counted))
    assert {"scatter", "scattergl"} <= set(bundle.traces[bundle.main])


def test_no_page_script_or_style_refers_to_another_origin():
    assert {p.suffix for p in OWN} >= {".html", ".js", ".css"}
    for path in OWN:
        text = path.read_text()
        assert not re.search(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+", text), path
        assert "cdn" not in text.lower(), path
