"""How a NAS study's supernet was split (``nas splits NAME``), as data: the family record and
its tables. Torch-free: it reads the study attribute :data:`~nas.supernet.FAMILY_ATTR`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nas._attrs import FAMILY_ATTR
from nas._tables import TableData
from nas.exceptions import NasError

if TYPE_CHECKING:
    from nas.study import Study

__all__ = ["split_tables", "split_tree"]


def split_tree(study: Study) -> dict[str, Any]:
    """The record of ``study``'s split supernet (``splits``: every split with its slot,
    groups, policy, step and scores; ``leaves``), as stored.

    Raises:
        NasError: the study has no split supernet (no ``train.splits``, or not trained yet).
    """
    tree = study.user_attrs.get(FAMILY_ATTR)
    if tree is None:
        raise NasError(
            f"study {study.name!r} has no split supernet (its objective has no train.splits, "
            "or it has not trained yet)"
        )
    return dict(tree)


def _choice_text(choice: Sequence[Any]) -> str:
    op, k, w = choice
    return f"{op}{k or ''}{'/' + str(w) if w else ''}" if (k or w) else str(op)


def _slot(slot: Sequence[int]) -> str:
    return f"s{slot[0]}.l{slot[1]}"


def split_tables(study: Study) -> list[TableData]:
    """``study``'s splits as tables: one row per split (leaf, slot, children with their
    choices, policy, step, whether the children got new weights, the cut score of every slot
    scored), then for each gradient-matching split the distance matrix (``1 - cos``) of the
    slot it split.

    Raises:
        NasError: as :func:`split_tree`.
    """
    tree = split_tree(study)
    rows = [
        {
            "split": i + 1,
            "leaf": r["leaf"],
            "slot": _slot(r["slot"]),
            "children": " | ".join(
                f"{c}: {' '.join(map(_choice_text, g))}"
                for c, g in zip(r["children"], r["groups"], strict=True)
            ),
            "policy": r["policy"],
            "at_step": r["at_step"],
            "restart": "new weights" if r["final"] else "copied",
            "cut scores": ", ".join(f"{_slot(x['slot'])} {x['cut']:.4g}" for x in r["scores"]),
        }
        for i, r in enumerate(tree["splits"])
    ]
    columns = ["split", "leaf", "slot", "children", "policy", "at_step", "restart", "cut scores"]
    leaves = ", ".join(leaf["id"] for leaf in tree["leaves"])
    tables = [TableData(columns, rows, title=f"Splits of {study.name} (leaves {leaves})")]
    for i, r in enumerate(tree["splits"]):
        chosen = [x for x in r["scores"] if x["slot"] == r["slot"]]
        if not chosen:
            continue
        labels = [_choice_text(c) for c in chosen[0]["choices"]]
        matrix = [
            {"": label, **{col: f"{v:.3f}" for col, v in zip(labels, row, strict=True)}}
            for label, row in zip(labels, chosen[0]["distance"], strict=True)
        ]
        tables.append(
            TableData(
                ["", *labels],
                matrix,
                title=f"split {i + 1} (leaf {r['leaf']}): gradient distance (1 - cos) in "
                f"{_slot(r['slot'])}",
                right=frozenset(labels),
            )
        )
    return tables
