"""``nas bench quant``: the public contract on a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

from nas.testing.cli import run_cli


def test_json_contract_and_table(tmp_path: Path) -> None:
    out_file = tmp_path / "q.json"
    code, out, err = run_cli(
        "bench", "quant", "--seeds", "2", "--epochs", "1", "--cqap-configs", "12",
        "--workers", "2", "--json", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out_file.read_text())
    assert len(data["configs"]) == 12
    settings = {(c["wbits"], c["granularity"], c["symmetry"]) for c in data["configs"]}
    assert settings == {
        (b, g, s) for b in (2, 4, 8) for g in ("channel", "tensor") for s in ("sym", "asym")
    }
    for c in data["configs"]:
        assert c["abits"] == c["wbits"]
        assert 0 <= c["supernet_acc"] <= 1 and 0 <= c["static_acc"] <= 1
        assert len(c["supernet_acc_seeds"]) == len(c["static_acc_seeds"]) == 2
        assert ("no_wdr_acc_seeds" in c) == (c["wbits"] == 2)
    assert set(data["cqap"]) >= {"kendall_tau", "pearson"}
    assert data["cqap"]["n_test"] == 6
    # three paths per step against one per static model: a quarter of the passes
    cost = data["cost"]
    assert cost["supernet_passes"][0] * 4 == cost["static_passes"][0]
    assert "W2A2 channel sym" in out and "CQAP: Kendall tau" in out


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    code, _, err = run_cli("bench", "quant", "--json", str(tmp_path / "no" / "q.json"))
    assert code == 2 and err.startswith("error: --json") and err.count("\n") == 1
    code, _, err = run_cli("bench", "quant", "--device", "cuda:7")
    assert code == 2 and "--device" in err and err.count("\n") == 1
