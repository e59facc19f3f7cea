"""The trial table's filter language and sort order (``nas.dashboard._table``), on hand-made
trials: field lookup, operators over numbers, strings, booleans and missing values, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import FrozenTrial, Objective, TrialState
from nas.dashboard import EXCLUDED_ATTR
from nas.dashboard._table import FilterError, compile_filter, resolve_field, sort_trials

OBJECTIVES = (Objective("loss", "minimize"), Objective("score", "maximize"))
# "budget" is also a built-in field, "score" also an objective: the bare names mean those.
PARAMS = ["lr", "width", "opt", "momentum", "budget", "score"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trial(number: int, state: str = "COMPLETE", **fields: Any) -> FrozenTrial:
    params = {"lr": 10.0 ** -(number + 1), "width": str(32 * (number + 1)), "opt": "adam"}
    params |= fields.pop("params", {})
    values = fields.pop("values", {"loss": float(number), "score": 10.0 - number})
    return FrozenTrial(
        trial_id=100 + number,
        number=number,
        state=TrialState(state),
        params=params,
        values=values if state == "COMPLETE" else {},
        datetime_start=T0,
        datetime_complete=T0 + timedelta(seconds=number) if state != "RUNNING" else None,
        **fields,
    )


TRIALS = [
    trial(0, params={"opt": "Nesterov SGD", "momentum": 0.9}, worker_id="host-a:1"),
    trial(1, user_attrs={"tag": "baseline", "flag": True, "blob": {"a": 1}}),
    trial(2, "FAILED", params={"opt": "sgd", "momentum": 0.1}, restarts=2),
    trial(3, "RUNNING", budget=3.0),
    trial(4, budget=9.0, params={"budget": 1, "score": 7}, user_attrs={EXCLUDED_ATTR: "noisy"}),
    trial(5, "PRUNED", user_attrs={"tag": None}),
]


def matching(text: str, trials: list[FrozenTrial] = TRIALS) -> list[int]:
    predicate = compile_filter(text, OBJECTIVES, PARAMS)
    return [t.number for t in trials if predicate(t)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [0, 1, 2, 3, 4, 5]),
        ("   ", [0, 1, 2, 3, 4, 5]),
        # numbers, scientific notation, negative literals, the = alias
        ("lr <= 1e-3", [2, 3, 4, 5]),
        ("lr > 1e-3", [0, 1]),
        ("number = 2", [2]),
        ("number != 2 and number > -1 and number < 4", [0, 1, 3]),
        # objectives: bare or values.NAME; unfinished trials have none
        ("loss >= 1", [1, 4]),
        ("values.score < 9.5", [1, 4]),
        ("values.loss == 0", [0]),
        # a bare objective name wins over a parameter of the same name; params.NAME reaches it
        ("score == 6", [4]),
        ("params.score == 7", [4]),
        # built-in fields win over parameters too
        ("budget == 9", [4]),
        ("params.budget == 1", [4]),
        ("budget < 100", [3, 4]),
        # a categorical choice "64" written as a bare number still matches the string
        ("width == 64", [1]),
        ("width == '64'", [1]),
        ("width in (32, 96)", [0, 2]),
        # strings: quotes keep spaces; ~ is a case-insensitive substring test
        ("opt == 'Nesterov SGD'", [0]),
        ('opt == "Nesterov SGD"', [0]),
        ("opt ~ sgd", [0, 2]),
        ("opt ~ 'v s'", [0]),
        ("opt in ('Nesterov SGD', adam)", [0, 1, 3, 4, 5]),
        # an inactive parameter (momentum) satisfies no clause at all, not even !=
        ("momentum != 0.5", [0, 2]),
        ("momentum < 1", [0, 2]),
        ("momentum in (0.1, 0.9)", [0, 2]),
        # ordering a number against a string (or a string against a number) is false
        ("opt < 5", []),
        ("lr > abc", []),
        ("lr ~ 1", []),
        # state, excluded, worker, restarts, duration
        ("state == COMPLETE", [0, 1, 4]),
        ("state in (FAILED, PRUNED, RUNNING)", [2, 3, 5]),
        ("state == complete", []),  # values are case-sensitive
        ("excluded == true", [4]),
        ("excluded == false and state == COMPLETE", [0, 1]),
        ("worker ~ HOST-A", [0]),
        ("restarts >= 1", [2]),
        ("duration >= 4", [4, 5]),
        # scalar user attributes; a null one equals null, a dict one is no scalar
        ("attrs.tag == baseline", [1]),
        ("attrs.flag == true", [1]),
        ("attrs.tag == null", [5]),
        ("attrs.blob == null", []),
        ("attrs.nope == 1", []),
        # conjunctions: and, AND, &&
        ("state == COMPLETE AND opt == adam && lr < 0.01", [4]),
    ],
)
def test_filter(text: str, expected: list[int]) -> None:
    assert matching(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope > 1", "unknown field 'nope'"),
        ("values.lr > 1", "unknown field 'values.lr'"),  # lr is a parameter, not an objective
        ("params.loss > 1", "unknown field 'params.loss'"),  # loss is an objective
        ("params.nope > 1", "unknown field 'params.nope'"),
        ("lr", "needs an operator"),
        ("lr <", "expected a value after 'lr' <"),
        ("lr 5", "expected an operator"),
        ("lr < 5 or lr > 6", "expected 'and' at 8, got 'or'"),
        ("lr < 5 and", "expected a field name at 11"),
        ("== 5", "expected a field name at 1"),
        ("state in COMPLETE", "needs a list in parentheses"),
        ("state in (COMPLETE, PRUNED", "missing ')'"),
        ("state in (COMPLETE, <)", "unexpected '<'"),
        ("opt == 'adam", "cannot read"),
        ("x" * 2001, "longer than 2000"),
    ],
)
def test_bad_filters_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(text, OBJECTIVES, PARAMS)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)  # callers that only know the builtins


def test_unknown_field_lists_the_known_ones() -> None:
    with pytest.raises(FilterError) as info:
        resolve_field("lrr", OBJECTIVES, PARAMS)
    for name in ("number", "state", "loss", "score", "lr", "momentum", "params.NAME"):
        assert name in str(info.value)


def order(field: str, descending: bool, trials: list[FrozenTrial] = TRIALS) -> list[int]:
    resolved = resolve_field(field, OBJECTIVES, PARAMS)
    return [t.number for t in sort_trials(trials, resolved, descending=descending)]


def test_sort_puts_missing_values_last_in_both_orders() -> None:
    # loss: trials 2, 3 and 5 have none
    assert order("loss", False) == [0, 1, 4, 2, 3, 5]
    assert order("loss", True) == [4, 1, 0, 2, 3, 5]
    assert order("momentum", False) == [2, 0, 1, 3, 4, 5]
    assert order("momentum", True) == [0, 2, 1, 3, 4, 5]
    assert order("budget", True) == [4, 3, 0, 1, 2, 5]


def test_sort_breaks_ties_by_number_in_both_orders() -> None:
    tied = [trial(n, values={"loss": 1.0 if n % 2 else 2.0, "score": 0.0}) for n in range(6)]
    assert order("loss", False, tied) == [1, 3, 5, 0, 2, 4]
    assert order("loss", True, tied) == [0, 2, 4, 1, 3, 5]
    assert order("opt", True, tied) == list(range(6))


def test_sort_strings_and_numbers() -> None:
    assert order("state", False) == [0, 1, 4, 2, 5, 3]  # COMPLETE < FAILED < PRUNED < RUNNING
    assert order("opt", False) == [0, 1, 3, 4, 5, 2]  # 'Nesterov SGD' < 'adam' < 'sgd'
    mixed = [trial(n, params={"opt": v}) for n, v in enumerate(["b", 2, "a", 1.5])]
    assert order("opt", False, mixed) == [3, 1, 2, 0]  # numbers first, then strings
    assert order("lr", False) == [5, 4, 3, 2, 1, 0]  # numerically, not as text
