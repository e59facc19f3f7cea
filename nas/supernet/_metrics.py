"""Metrics of architectures: what a NAS study may optimise (the metric registry).

Every metric is registered once in :data:`METRICS` with the only direction that makes sense for
it and a function computing it from a :class:`MetricContext` (an architecture, the evaluator
that holds its weights, the data set). The study file's ``objectives`` are checked against this
table, trials compute what it says, and new metrics (bits of a quantized network, ...) are one
registration. Importing this module imports no torch; computing a metric that needs the network
does.

Built-in metrics:

* ``accuracy`` / ``error``: top-1 accuracy / ``1 - accuracy`` on the validation split;
* ``nll``: mean negative log-likelihood (nats) on the validation split;
* ``mflops``, ``params``: analytic (:func:`nas.space.arch_cost`);
* ``latency_ms``: the median forward time of the extracted network on the latency device (the
  only metric that is not a pure function of the architecture and the seed; measured only when
  asked for);
* ``avg_wbits``, ``avg_abits``, ``bitops``, ``size_bytes``: analytic quantization metrics
  (:func:`nas.space.quant_cost`: parameter-weighted weight bits and feature-map-weighted
  activation bits without the first and last layers, BitOPs, bytes with scales and offsets);
  computed for every trial of a quantized space, on demand elsewhere (every conv a 32-bit
  float there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nas._registry import Registry
from nas.exceptions import StudyConfigError

if TYPE_CHECKING:
    from nas.space import Arch, ArchCost, ArchSpace, QuantCost
    from nas.supernet._config import EvalConfig
    from nas.supernet._data import ImageDataset
    from nas.supernet._evaluate import ArchEvaluator, Scores

__all__ = ["METRICS", "Metric", "MetricContext", "compute_metrics"]


@dataclass
class MetricContext:
    """What metrics are computed from; scores and costs are computed once and shared.

    Attributes:
        evaluator: holds the weights (:class:`~nas.supernet.ArchEvaluator`).
        arch: the architecture.
        data: the data set (validation and test splits are scored).
        eval: measurement settings.
    """

    evaluator: ArchEvaluator
    arch: Arch
    data: ImageDataset
    eval: EvalConfig
    _scores: dict[str, Scores] = field(default_factory=dict, repr=False)
    _cost: ArchCost | None = field(default=None, repr=False)
    _quant: QuantCost | None = field(default=None, repr=False)

    def _score_splits(self) -> None:
        from nas.supernet._evaluate import score

        net = self.evaluator.network(self.arch)
        self._scores["val"] = score(net, self.data.x_val, self.data.y_val)
        self._scores["test"] = score(net, self.data.x_test, self.data.y_test)

    def scores(self, split: str = "val") -> Scores:
        """Accuracy and NLL on ``split`` (``val`` or ``test``), one calibration for both."""
        if split not in self._scores:
            self._score_splits()
        return self._scores[split]

    @property
    def cost(self) -> ArchCost:
        """The analytic cost of :attr:`arch`."""
        if self._cost is None:
            self._cost = self.evaluator.space.cost(self.arch)
        return self._cost

    @property
    def quant(self) -> QuantCost:
        """The quantization metrics of :attr:`arch`."""
        if self._quant is None:
            from nas.space import quant_cost

            self._quant = quant_cost(self.evaluator.space, self.arch)
        return self._quant


@dataclass(frozen=True)
class Metric:
    """One metric (module docstring).

    Attributes:
        name: the objective name in study files.
        direction: ``minimize`` or ``maximize``.
        compute: ``compute(context) -> float``.
        on_demand: computed only when the study asks for it (expensive or noisy); the others are
            computed for every trial and stored with it.
        description: one line for help texts.
        applies: for a metric that is not on demand, the spaces whose trials compute it
            unasked (``None``: every space).
    """

    name: str
    direction: str
    compute: Callable[[MetricContext], float]
    on_demand: bool = False
    description: str = ""
    applies: Callable[[ArchSpace], bool] | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(f"metric {self.name!r}: direction must be minimize or maximize")


#: Every metric a NAS study may optimise, by name.
METRICS: Registry[Metric] = Registry("metric", StudyConfigError)


def _quantized(space: ArchSpace) -> bool:
    return bool(space.quant_sites)


def _latency(ctx: MetricContext) -> float:
    from nas.supernet._latency import measure_latency

    e = ctx.eval
    return measure_latency(
        ctx.evaluator.extract(ctx.arch),
        (e.latency_batch, *ctx.data.input_shape),
        warmup=e.latency_warmup,
        repeats=e.latency_repeats,
        device=e.latency_device,
    )


for _metric in (
    Metric("accuracy", "maximize", lambda c: c.scores().accuracy, description="validation top-1"),
    Metric("error", "minimize", lambda c: 1.0 - c.scores().accuracy, description="1 - accuracy"),
    Metric("nll", "minimize", lambda c: c.scores().nll, description="validation mean NLL (nats)"),
    Metric("mflops", "minimize", lambda c: c.cost.mflops, description="2 x MACs / 1e6, per image"),
    Metric("params", "minimize", lambda c: float(c.cost.params), description="parameters"),
    Metric("latency_ms", "minimize", _latency, on_demand=True, description="median forward ms"),
    *(
        Metric(name, "minimize", fn, description=text, applies=_quantized)
        for name, fn, text in (
            ("avg_wbits", lambda c: c.quant.avg_wbits, "mean weight bits (parameter-weighted)"),
            ("avg_abits", lambda c: c.quant.avg_abits, "mean activation bits (map-weighted)"),
            ("bitops", lambda c: float(c.quant.bitops), "MACs x weight bits x activation bits"),
            ("size_bytes", lambda c: float(c.quant.size_bytes), "model bytes (scales included)"),
        )
    ),
):
    METRICS.register(_metric.name, _metric)


def compute_metrics(ctx: MetricContext, wanted: set[str]) -> dict[str, Any]:
    """Every metric that is not on demand, those of ``wanted``, and ``test_accuracy`` (stored
    with the trial, never used by the search).

    Raises:
        StudyConfigError: a name in ``wanted`` that is no metric.
    """
    out: dict[str, Any] = {}
    space = ctx.evaluator.space
    for name, metric in METRICS.items():
        unasked = not metric.on_demand and (metric.applies is None or metric.applies(space))
        if unasked or name in wanted:
            out[name] = float(metric.compute(ctx))
    for name in wanted - set(out):
        out[name] = float(METRICS.get(name).compute(ctx))
    out["test_accuracy"] = ctx.scores("test").accuracy
    return out
