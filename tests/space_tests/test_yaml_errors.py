"""Every YAML definition error names the file, the key path, the rule and the offending value."""

from __future__ import annotations

import pytest

from nas.exceptions import SpaceError
from nas.space import SearchSpace

CASES: list[tuple[str, str, list[str]]] = [
    # (id, YAML text, fragments that must all appear after "<file>: ")
    (
        "low_ge_high",
        "params:\n  lr: {type: float, low: 0.1, high: 0.01}\n",
        ["params.lr.low: must be < high (got low=0.1, high=0.01)"],
    ),
    (
        "unknown_key",
        "params:\n  lr: {type: float, low: 0.1, hgih: 0.01}\n",
        [
            "params.lr.hgih: unknown key (did you mean 'high'?); "
            "valid keys for a float param: low, high, log, condition"
        ],
    ),
    (
        "unknown_key_int",
        "params:\n  n: {type: int, low: 1, high: 4, choices: [1]}\n",
        [
            "params.n.choices: unknown key",
            "valid keys for an int param: low, high, step, log, condition",
        ],
    ),
    (
        "missing_key",
        "params:\n  lr: {type: float, low: 0.1}\n",
        ["params.lr: missing required key 'high' for a float param"],
    ),
    (
        "missing_type",
        "params:\n  lr: {low: 0.1, high: 1.0}\n",
        ["params.lr: missing required key 'type' (one of float, int, categorical, fixed)"],
    ),
    (
        "bad_type",
        "params:\n  lr: {type: real, low: 0.1, high: 1.0}\n",
        ["params.lr.type: must be one of float, int, categorical, fixed (got 'real')"],
    ),
    (
        "string_bound",
        'params:\n  lr: {type: float, low: "abc", high: 1.0}\n',
        ["params.lr.low: must be a number (got 'abc', a string)"],
    ),
    (
        "yaml11_exponent",
        "params:\n  lr: {type: float, low: 1e-4, high: 1.0e-1}\n",
        ["params.lr.low: must be a number (got '1e-4', a string", "write 1.0e-4"],
    ),
    (
        "int_given_as_float",
        "params:\n  n: {type: int, low: 1, high: 3.0}\n",
        ["params.n.high: must be an integer (got 3.0, a float; write 3)"],
    ),
    (
        "int_bad_step",
        "params:\n  n: {type: int, low: 0, high: 10, step: 4}\n",
        ["params.n.step: high - low must be a multiple of step (got low=0, high=10, step=4)"],
    ),
    (
        "log_not_bool",
        "params:\n  lr: {type: float, low: 0.1, high: 1.0, log: maybe}\n",
        ["params.lr.log: must be true or false (got 'maybe', a string)"],
    ),
    (
        "float_log_nonpositive",
        "params:\n  lr: {type: float, low: 0.0, high: 1.0, log: true}\n",
        ["params.lr.low: must be > 0 when log is true (got low=0.0)"],
    ),
    (
        "empty_choices",
        "params:\n  o: {type: categorical, choices: []}\n",
        ["params.o.choices: must list at least one choice"],
    ),
    (
        "choices_not_list",
        "params:\n  o: {type: categorical, choices: sgd}\n",
        ["params.o.choices: must be a list of values (got 'sgd', a string)"],
    ),
    (
        "duplicate_choice",
        "params:\n  o: {type: categorical, choices: [a, b, a]}\n",
        ["params.o.choices: choice 'a' is listed twice"],
    ),
    (
        "nested_choice",
        "params:\n  o: {type: categorical, choices: [[1, 2], 3]}\n",
        ["params.o.choices: must be a scalar", "got [1, 2]"],
    ),
    (
        "fixed_missing_value",
        "params:\n  f: {type: fixed}\n",
        ["params.f: missing required key 'value' for a fixed param"],
    ),
    (
        "param_not_mapping",
        "params:\n  f: 3\n",
        ["params.f: must be a mapping with a 'type' key (got 3, an integer)", "type: fixed"],
    ),
    (
        "unknown_parent",
        "params:\n  m: {type: float, low: 0.0, high: 1.0, condition: {parent: opt, in: [a]}}\n",
        ["params.m.condition.parent: unknown parameter 'opt'; known parameters: m"],
    ),
    (
        "value_not_in_parent_domain",
        "params:\n"
        "  o: {type: categorical, choices: [sgd, adam]}\n"
        "  m: {type: float, low: 0.0, high: 1.0, condition: {parent: o, in: [sgdd]}}\n",
        ["params.m.condition.in: value 'sgdd' is not in the domain of parent 'o'"],
    ),
    (
        "int_value_not_in_parent_domain",
        "params:\n"
        "  n: {type: int, low: 1, high: 3}\n"
        "  w: {type: int, low: 1, high: 3, condition: {parent: n, in: [2, 5]}}\n",
        ["params.w.condition.in: value 5 is not in the domain of parent 'n' [1, 3]"],
    ),
    (
        "float_parent",
        "params:\n"
        "  x: {type: float, low: 0.0, high: 1.0}\n"
        "  y: {type: float, low: 0.0, high: 1.0, condition: {parent: x, in: [0.5]}}\n",
        [
            "params.y.condition.parent: parent 'x' is a float param; conditions need a categorical, int or fixed parent"
        ],
    ),
    (
        "condition_unknown_key",
        "params:\n"
        "  o: {type: categorical, choices: [a, b]}\n"
        "  m: {type: fixed, value: 1, condition: {parent: o, values: [a]}}\n",
        ["params.m.condition.values: unknown key", "valid keys for a condition: parent, in"],
    ),
    (
        "condition_missing_in",
        "params:\n"
        "  o: {type: categorical, choices: [a, b]}\n"
        "  m: {type: fixed, value: 1, condition: {parent: o}}\n",
        ["params.m.condition: missing required key 'in'"],
    ),
    (
        "condition_in_scalar",
        "params:\n"
        "  o: {type: categorical, choices: [a, b]}\n"
        "  m: {type: fixed, value: 1, condition: {parent: o, in: a}}\n",
        ["params.m.condition.in: must be a list of values (got 'a', a string); write in: [value]"],
    ),
    (
        "condition_not_mapping",
        "params:\n"
        "  o: {type: categorical, choices: [a, b]}\n"
        "  m: {type: fixed, value: 1, condition: o == a}\n",
        ["params.m.condition: must be a mapping {parent: NAME, in: [values]}"],
    ),
    (
        "cycle",
        "params:\n"
        "  a: {type: int, low: 0, high: 1, condition: {parent: b, in: [1]}}\n"
        "  b: {type: int, low: 0, high: 1, condition: {parent: a, in: [1]}}\n",
        ["params.a.condition: conditions form a cycle: a -> b -> a"],
    ),
    ("empty_params", "params: {}\n", ["params: a search space needs at least one parameter"]),
    (
        "params_not_mapping",
        "params:\n  - lr\n",
        ["params: must be a mapping from parameter name to definition (got list: ['lr'])"],
    ),
    ("missing_params", "space:\n  x: 1\n", ["space: unknown key; valid top-level keys: params"]),
    ("empty_file", "", ["expected a mapping with key 'params' (got an empty document)"]),
    ("top_level_list", "- 1\n- 2\n", ["expected a mapping with key 'params' (got list"]),
    (
        "non_string_name",
        "params:\n  1: {type: fixed, value: 1}\n",
        ["params: a parameter name must be a non-empty string (got 1, an integer)"],
    ),
    (
        "yaml11_bool_name",
        "params:\n  on: {type: fixed, value: 1}\n",
        ["params: a parameter name must be a non-empty string (got True, a boolean", "quote"],
    ),
    (
        "syntax_error",
        "params:\n  lr: {type: float, low: 0.1\n  x: 1\n",
        ["line 3, column", "invalid YAML"],
    ),
    (
        "duplicate_param",
        "params:\n  lr: {type: float, low: 0.1, high: 1.0}\n  lr: {type: int, low: 1, high: 2}\n",
        ["line 3, column 3: invalid YAML: found duplicate key 'lr'"],
    ),
]


@pytest.mark.parametrize(("text", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_yaml_error_names_file_and_key_path(tmp_path, text, fragments):
    f = tmp_path / "space.yaml"
    f.write_text(text)
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_yaml(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}: "), msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)
    assert "\n" not in msg  # one line, for the CLI


def test_source_is_the_path_string_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "x.yaml").write_text(
        "params:\n  lr: {type: float, low: 0.1, high: 0.01}\n"
    )
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_yaml("spaces/x.yaml")
    assert (
        str(info.value) == "spaces/x.yaml: params.lr.low: must be < high (got low=0.1, high=0.01)"
    )


def test_file_not_found_and_directory(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpaceError, match=r"nope\.yaml: file not found$"):
        SearchSpace.from_yaml(missing)
    with pytest.raises(SpaceError, match="is a directory"):
        SearchSpace.from_yaml(tmp_path)


def test_from_dict_uses_source():
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_dict(
            {"params": {"n": {"type": "int", "low": 1, "high": 3.0}}}, source="study.yaml:space"
        )
    assert str(info.value).startswith("study.yaml:space: params.n.high: must be an integer")
    with pytest.raises(SpaceError, match=r"^<dict>: params: missing required key 'params'"):
        SearchSpace.from_dict({})


def test_valid_yaml_with_all_kinds(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(
        "params:\n"
        "  lr:        {type: float, low: 1.0e-4, high: 1.0e-1, log: true}\n"
        "  n_layers:  {type: int, low: 1, high: 3}\n"
        "  units:     {type: int, low: 16, high: 256, step: 16}\n"
        "  optimizer: {type: categorical, choices: [sgd, adam]}\n"
        "  momentum:  {type: float, low: 0.0, high: 0.99, condition: {parent: optimizer, in: [sgd]}}\n"
        "  seed_like: {type: fixed, value: 3}\n"
        "  flag:      {type: categorical, choices: [true, false, null, 1]}\n"
    )
    space = SearchSpace.from_yaml(f)
    assert space.names == ("lr", "n_layers", "units", "optimizer", "momentum", "seed_like", "flag")
    assert space["flag"].choices == (True, False, None, 1)  # type: ignore[attr-defined]
    assert space.to_dict()["params"]["lr"] == {
        "type": "float",
        "low": 1e-4,
        "high": 0.1,
        "log": True,
    }
