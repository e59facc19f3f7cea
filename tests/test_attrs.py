"""The reserved attribute keys are spelled once, in nas._attrs."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import nas._attrs as attrs

PACKAGE = Path(attrs.__file__).parent
KEYS = {
    attrs.RUN_ATTR,
    attrs.OBJECTIVE_ATTR,
    attrs.NOTE_ATTR,
    attrs.FAMILY_ATTR,
    attrs.LEAF_ATTR,
    attrs.EXCLUDED_ATTR,
    attrs.SUPERNET_LEASE,
    *attrs.LEGACY_OBJECTIVE_ATTRS,
}


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of ``path`` (line, source text)."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.STRING]


def test_no_module_spells_a_reserved_key_itself() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_attrs.py":
            continue
        for line, text in _strings(path):
            value = None
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):  # an f-string
                if attrs.LEASE_PREFIX in text:
                    found.append(f"{path.relative_to(PACKAGE)}:{line}: {text}")
            if isinstance(value, str) and (value in KEYS or value.startswith(attrs.LEASE_PREFIX)):
                found.append(f"{path.relative_to(PACKAGE)}:{line}: {text}")
    assert found == [], "import these keys from nas._attrs:\n" + "\n".join(found)


def test_the_table() -> None:
    assert attrs.lease_key("x") == "nas.lease.x"
    assert attrs.is_reserved_study_attr("nas.lease.supernet-training")
    assert attrs.is_reserved_study_attr(attrs.RUN_ATTR)
    assert not attrs.is_reserved_study_attr("my.key")
    assert {"arch", "supernet.leaf", "nas.excluded"} == attrs.RESERVED_TRIAL_ATTRS
