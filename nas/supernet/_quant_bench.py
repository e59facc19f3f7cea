"""The elastic-quantization benchmark (``nas bench quant``, ``benchmarks/quant.py``).

One elastically quantized supernet (EQ-Net: H/R/L paths, progressive guidance, WDR) of a small
residual CNN on digits against one static LSQ QAT model per uniform setting -- bits {2, 4, 8}
(weights = activations) x symmetric/asymmetric x per-channel/per-tensor, 12 models -- each
trained the same number of epochs with the same recipe and initial weights; every network is
scored on the held-out half of digits (the ranking benchmark's split), the supernet's after
batch-norm recalibration in each setting. Beside them:

* the method's **ablations** at 2 bits: the supernet without WDR, and without progressive
  guidance (each path learns the labels alone);
* a **full-precision** model trained alone (the reference every quantized model falls short
  of) and the static models' own seed-to-seed spread (the noise any gap is measured against);
* **CQAP**: the supernet of the first seed measures ``cqap_configs`` random mixed-precision
  settings (each site's bits, granularity and symmetry drawn independently); a
  :class:`~nas.searchers._predictor.Cqap` fitted on half of them is judged on the other half
  (Kendall tau, Pearson);
* the **cost**: forward/backward passes (one path on one batch = 1) and wall seconds of the
  supernet against the sum of the 12 static models.

Every job is a function of its seed alone (so results do not depend on the scheduling) and runs
in a worker process when ``workers > 1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nas.space import Arch, ArchSpace, QuantChoice

__all__ = ["QUANT_BENCH_SPACE", "UNIFORM_SETTINGS", "run_quant_bench"]

#: The benchmark's network: a residual CNN on 8 x 8 digits, every convolution quantized.
QUANT_BENCH_SPACE: dict[str, Any] = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 16},
    "quant": {"wbits": [2, 4, 8], "abits": [2, 4, 8], "granularity": ["channel", "tensor"],
              "symmetry": ["sym", "asym"]},
    "stages": [
        {"channels": 16, "stride": 1, "depth": [2], "ops": ["conv"], "kernel": [3],
         "width": [16]},
        {"channels": 32, "stride": 2, "depth": [2], "ops": ["conv"], "kernel": [3],
         "width": [32]},
    ],
}  # fmt: skip
#: The uniform settings: (bits, granularity, symmetry).
UNIFORM_SETTINGS: tuple[tuple[int, str, str], ...] = tuple(
    (b, g, s) for b in (2, 4, 8) for s in ("sym", "asym") for g in ("channel", "tensor")
)
#: The recipe (EQ-Net's optimiser; a learning rate for training from scratch on digits).
RECIPE: dict[str, Any] = {
    "batch_size": 64,
    "optimizer": "adam",
    "lr": 0.003,
    "weight_decay": 0.0,
    "grad_clip": 1.0,
    "clip_mode": "value",
    "schedule_unit": "step",
    "augment": "shift",
    "sampler": "uniform",
}


def _space(setting: tuple[int, str, str] | None) -> ArchSpace:
    """The benchmark space; with ``setting``, its quantization fixed to that one (a static
    model's space); ``"fp"`` is handled by the caller."""
    data = dict(QUANT_BENCH_SPACE)
    if setting is not None:
        b, g, s = setting
        data["quant"] = {"wbits": [b], "abits": [b], "granularity": [g], "symmetry": [s]}
    return ArchSpace.from_dict(data)


def uniform_arch(space: ArchSpace, setting: tuple[int, str, str]) -> Arch:
    """The benchmark network with every site at ``setting`` (weights and activations)."""
    b, g, s = setting
    base = space.largest()
    return Arch(
        base.depths, base.layers, tuple(QuantChoice(b, b, g, s) for _ in space.quant_sites)
    )


def _train(
    space: ArchSpace, seed: int, epochs: int, quant: dict[str, Any] | None, device: str
) -> tuple[Any, Any, float, int]:
    """Train ``space``'s supernet with the recipe; returns the net, the data, the seconds and
    the forward/backward passes (one path on one batch = 1)."""
    import torch

    from nas.supernet._config import QuantTrainConfig, TrainConfig
    from nas.supernet._ranking import ranking_data
    from nas.supernet._train import SupernetTrainer, build_supernet

    if device == "cpu":
        torch.set_num_threads(1)
    data = ranking_data()
    q = None if quant is None else QuantTrainConfig.from_value(quant)
    config = TrainConfig(epochs=epochs, seed=seed, device=device, quant=q, **RECIPE)
    trainer = SupernetTrainer(build_supernet(space, seed), data, config)
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    paths = 3 if quant is None or quant.get("paths", "hrl") == "hrl" else 1
    passes = trainer.steps * (paths if space.quant_sites else 1)
    return trainer.net, data, seconds, passes


def _accuracy(net: Any, data: Any, arch: Arch) -> float:
    from nas.supernet._evaluate import SupernetEvaluator, score

    evaluator = SupernetEvaluator(net, data.x_train)
    return score(evaluator.network(arch), data.x_val, data.y_val).accuracy


def _measure(net: Any, data: Any, arch: Arch) -> dict[str, float]:
    """Held-out accuracy and NLL of ``arch``, and the accuracy and NLL on each half of the
    held-out images (for the measurement's own split-half agreement)."""
    from nas.supernet._evaluate import SupernetEvaluator, score

    net_a = SupernetEvaluator(net, data.x_train).network(arch)
    h = len(data.y_val) // 2
    whole = score(net_a, data.x_val, data.y_val)
    a = score(net_a, data.x_val[:h], data.y_val[:h])
    b = score(net_a, data.x_val[h:], data.y_val[h:])
    return {"acc": whole.accuracy, "nll": whole.nll, "acc_a": a.accuracy, "acc_b": b.accuracy,
            "nll_a": a.nll, "nll_b": b.nll}  # fmt: skip


def _job(job: tuple[str, int, int, Any, str, int]) -> tuple[str, int, Any, dict[str, Any]]:
    kind, seed, epochs, setting, device, cqap_configs = job
    out: dict[str, Any] = {}
    if kind == "static":
        space = _space(setting)
        net, data, seconds, passes = _train(space, seed, epochs, {"paths": "single"}, device)
        out = {"acc": _accuracy(net, data, space.largest()), "seconds": seconds, "passes": passes}
    elif kind == "fp":
        space = ArchSpace.from_dict({k: v for k, v in QUANT_BENCH_SPACE.items() if k != "quant"})
        net, data, seconds, passes = _train(space, seed, epochs, None, device)
        out = {"acc": _accuracy(net, data, space.largest()), "seconds": seconds, "passes": passes}
    else:  # a supernet: "eqnet", "no_wdr", "no_gpg"
        quant = {"eqnet": {}, "no_wdr": {"wdr": False}, "no_gpg": {"gpg": False}}[kind]
        space = _space(None)
        net, data, seconds, passes = _train(space, seed, epochs, quant, device)
        settings = (
            UNIFORM_SETTINGS if kind == "eqnet" else [u for u in UNIFORM_SETTINGS if u[0] == 2]
        )
        out = {
            "acc": {"/".join(map(str, u)): _accuracy(net, data, uniform_arch(space, u))
                    for u in settings},
            "seconds": seconds,
            "passes": passes,
        }  # fmt: skip
        if kind == "eqnet" and cqap_configs:
            rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
            archs = [space.full_mask().sample(rng) for _ in range(cqap_configs)]
            out["cqap_params"] = [space.params(a) for a in archs]
            out["cqap_measured"] = [_measure(net, data, a) for a in archs]
    return kind, seed, setting, out


def _cqap(
    params: list[dict[str, Any]], measured: list[dict[str, float]], seed: int
) -> dict[str, float]:
    """CQAP fitted on the first half of the measured settings, judged on the second: against
    held-out accuracy (the contract's ``kendall_tau``/``pearson``) and, fitted on the negative
    NLL, against it; the floor (free proxies: BitOPs, average bits) and the ceiling (the
    measurement's own split-half agreement on the two halves of the held-out images) beside."""
    from nas.searchers._predictor import Cqap, SpaceEncoder
    from nas.space import arch_metrics
    from nas.supernet._ranking import kendall_tau

    arch_space = _space(None)
    enc = SpaceEncoder(arch_space.search_space)
    x = enc.encode_many(params)
    col = {k: np.array([m[k] for m in measured]) for k in measured[0]}
    half = len(params) // 2
    test = slice(half, None)
    out: dict[str, float] = {"n_train": float(half), "n_test": float(len(params) - half)}
    for target, y in (("acc", col["acc"]), ("nll", -col["nll"])):
        pred = Cqap(enc.width, seed=seed).fit(x[:half], y[:half]).predict(x[test])
        prefix = "" if target == "acc" else "nll_"
        out[f"{prefix}kendall_tau"] = kendall_tau(pred, y[test])
        out[f"{prefix}pearson"] = float(np.corrcoef(pred, y[test])[0, 1])
    out["ceiling_split_half_tau"] = kendall_tau(col["acc_a"][test], col["acc_b"][test])
    out["nll_ceiling_split_half_tau"] = kendall_tau(-col["nll_a"][test], -col["nll_b"][test])
    metrics = [arch_metrics(arch_space, arch_space.arch(p)) for p in params[half:]]
    for k in ("bitops", "avg_wbits", "avg_abits"):
        proxy = np.array([m[k] for m in metrics])
        out[f"proxy_{k}_tau"] = kendall_tau(proxy, col["acc"][test])
        out[f"nll_proxy_{k}_tau"] = kendall_tau(proxy, -col["nll"][test])
    return out


def run_quant_bench(
    seeds: Sequence[int],
    epochs: int,
    *,
    device: str = "cpu",
    workers: int = 1,
    cqap_configs: int = 1000,
    on_job: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (module docstring). Returns the ``--json`` form: ``configs`` (one per
    uniform setting: ``wbits``, ``abits``, ``granularity``, ``symmetry``, ``supernet_acc`` and
    ``static_acc`` -- means over the seeds -- and the per-seed lists), ``cqap``
    (``kendall_tau``, ``pearson``), ``ablations`` (per-seed 2-bit accuracies), ``fp_acc``,
    ``cost``."""
    from nas.supernet._ranking import _map

    seeds = list(seeds)
    jobs: list[tuple[str, int, int, Any, str, int]] = []
    for seed in seeds:
        jobs.append(("eqnet", seed, epochs, None, device, cqap_configs if seed == seeds[0] else 0))
        jobs.append(("no_wdr", seed, epochs, None, device, 0))
        jobs.append(("no_gpg", seed, epochs, None, device, 0))
        jobs.append(("fp", seed, epochs, None, device, 0))
        jobs.extend(("static", seed, epochs, u, device, 0) for u in UNIFORM_SETTINGS)
    results: dict[tuple[str, int, Any], dict[str, Any]] = {}
    for kind, seed, setting, out in _map(_job, jobs, workers):
        results[(kind, seed, None if setting is None else tuple(setting))] = out
        if on_job is not None:
            on_job()
    configs = []
    for u in UNIFORM_SETTINGS:
        key = "/".join(map(str, u))
        sup = [results[("eqnet", s, None)]["acc"][key] for s in seeds]
        sta = [results[("static", s, u)]["acc"] for s in seeds]
        entry: dict[str, Any] = {
            "wbits": u[0], "abits": u[0], "granularity": u[1], "symmetry": u[2],
            "supernet_acc": float(np.mean(sup)), "static_acc": float(np.mean(sta)),
            "supernet_acc_seeds": sup, "static_acc_seeds": sta,
        }  # fmt: skip
        if u[0] == 2:
            entry["no_wdr_acc_seeds"] = [results[("no_wdr", s, None)]["acc"][key] for s in seeds]
            entry["no_gpg_acc_seeds"] = [results[("no_gpg", s, None)]["acc"][key] for s in seeds]
        configs.append(entry)
    first = results[("eqnet", seeds[0], None)]
    cqap = (
        _cqap(first["cqap_params"], first["cqap_measured"], seeds[0])
        if "cqap_params" in first
        else {}
    )
    cost = {
        "supernet_passes": [results[("eqnet", s, None)]["passes"] for s in seeds],
        "static_passes": [
            sum(results[("static", s, u)]["passes"] for u in UNIFORM_SETTINGS) for s in seeds
        ],
        "supernet_seconds": [results[("eqnet", s, None)]["seconds"] for s in seeds],
        "static_seconds": [
            sum(results[("static", s, u)]["seconds"] for u in UNIFORM_SETTINGS) for s in seeds
        ],
    }
    return {
        "configs": configs,
        "cqap": cqap,
        "fp_acc_seeds": [results[("fp", s, None)]["acc"] for s in seeds],
        "cost": cost,
        "seeds": seeds,
        "epochs": epochs,
    }
