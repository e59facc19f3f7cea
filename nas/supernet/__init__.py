"""Weight-sharing supernets for architecture search.

The architecture space is torch-free data (:class:`nas.space.ArchSpace`, re-exported here): an
ordinary search space to every searcher, with masked views (:class:`~nas.space.ArchMask`) and
analytic costs. This package builds the networks and trains and scores them:

* :class:`Supernet` holds every architecture of a space in shared weights, activates one
  (:meth:`Supernet.set_active`, :meth:`Supernet.sample`) and extracts it as a standalone network
  (:meth:`Supernet.extract`); its layer slots hold one branch per registered op
  (:data:`nas.space.ARCH_OPS`);
* :class:`SupernetTrainer` trains it with a path sampler from :data:`PATH_SAMPLERS`
  (``uniform``, ``sandwich``, ``pada``), an optimizer, a schedule and a step budget, extended by
  :class:`TrainerHook` objects; data-parallel over the processes of a ``torch.distributed``
  group when one is initialised (``torchrun -m nas.supernet.train STUDY.yaml``);
* the evaluation interface :class:`ArchEvaluator` ("a batch-norm-calibrated network for this
  architecture", :class:`SupernetEvaluator` for one supernet) feeds the metrics of
  :data:`METRICS`, the ranking benchmark and export;
* a supernet splits into a family of sub-supernets (few-shot NAS, GM-NAS:
  :class:`FamilyTrainer`, policies in :data:`SPLIT_POLICIES`, :class:`FamilyEvaluator` routing
  each architecture to the leaf that owns it);
* :class:`SupernetObjective` is the ``supernet`` objective type of study files;
* the built-in benchmarks of ``nas bench`` (:func:`ranking_bench`, :func:`splits_bench`,
  :func:`quant_bench`) return :class:`BenchReport` tables; :func:`split_tables` describes a
  study's split supernet (``nas splits``);
  :func:`load_image_dataset` loads digits (embedded) or CIFAR-10 from a user's directory (never
  downloaded).

Importing this package imports no torch: the names below load their modules on first use.

Example::

    import numpy as np
    from nas.supernet import ArchSpace, Supernet

    space = ArchSpace.from_yaml("search_spaces/digits_cnn.yaml")
    net = Supernet(space)
    arch = net.sample(np.random.default_rng(0))
    standalone = net.extract(arch)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.space import (
        ARCH_OPS,
        SKIPPED,
        Arch,
        ArchCost,
        ArchMask,
        ArchSpace,
        LayerChoice,
        QuantChoice,
        QuantSpec,
        StageSpec,
        arch_cost,
        quant_cost,
    )
    from nas.supernet._bench import (
        SPLIT_SPACES,
        BenchReport,
        check_bench_options,
        load_bench_ground_truth,
        quant_bench,
        ranking_bench,
        splits_bench,
        splits_bench_configs,
        write_bench_json,
    )
    from nas.supernet._config import (
        EvalConfig,
        QuantTrainConfig,
        SplitConfig,
        SupernetDefinition,
        TrainConfig,
        parse_supernet_definition,
    )
    from nas.supernet._data import (
        DatasetError,
        ImageDataset,
        augment_batch,
        load_cifar10,
        load_digits_images,
        load_image_dataset,
    )
    from nas.supernet._evaluate import (
        ArchEvaluator,
        Scores,
        SupernetEvaluator,
        evaluate_arch,
        recalibrate_bn,
        score,
    )
    from nas.supernet._export import ExportedSubnet, ExportError, export_subnet, load_subnet
    from nas.supernet._family import FamilyEvaluator, FamilyTrainer, gradient_distances
    from nas.supernet._latency import measure_latency
    from nas.supernet._metrics import METRICS, Metric, MetricContext
    from nas.supernet._network import ElasticLayer, Residual, Supernet
    from nas.supernet._objective import (
        SupernetNotTrainedError,
        SupernetObjective,
        parse_supernet_objective,
    )
    from nas.supernet._ops import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear
    from nas.supernet._plugins import PATH_SAMPLERS, SPLIT_POLICIES
    from nas.supernet._quant import ConvQuantizer, init_quantizers
    from nas.supernet._quant_static import QuantizedConv2d, QuantizedLinear
    from nas.supernet._samplers import (
        PadaSampler,
        PathLoss,
        PathSampler,
        SandwichSampler,
        UniformSampler,
        create_sampler,
    )
    from nas.supernet._split_report import split_tables, split_tree
    from nas.supernet._splits import (
        Family,
        Leaf,
        SlotScore,
        SplitPolicy,
        SplitRecord,
        min_cut_partition,
    )
    from nas.supernet._train import (
        DeviceError,
        GradientVariance,
        SupernetTrainer,
        TrainerHook,
        build_supernet,
        check_device,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.supernet._bench": [
                "SPLIT_SPACES",
                "BenchReport",
                "check_bench_options",
                "load_bench_ground_truth",
                "quant_bench",
                "ranking_bench",
                "splits_bench",
                "splits_bench_configs",
                "write_bench_json",
            ],
            "nas.supernet._split_report": ["split_tables", "split_tree"],
            "nas.space": [
                "ARCH_OPS",
                "SKIPPED",
                "Arch",
                "ArchCost",
                "ArchMask",
                "ArchSpace",
                "LayerChoice",
                "QuantChoice",
                "QuantSpec",
                "StageSpec",
                "arch_cost",
                "quant_cost",
            ],
            "nas.supernet._config": [
                "EvalConfig",
                "QuantTrainConfig",
                "SplitConfig",
                "SupernetDefinition",
                "TrainConfig",
                "parse_supernet_definition",
            ],
            "nas.supernet._family": ["FamilyEvaluator", "FamilyTrainer", "gradient_distances"],
            "nas.supernet._splits": [
                "Family",
                "Leaf",
                "SlotScore",
                "SplitPolicy",
                "SplitRecord",
                "min_cut_partition",
            ],
            "nas.supernet._data": [
                "DatasetError",
                "ImageDataset",
                "augment_batch",
                "load_cifar10",
                "load_digits_images",
                "load_image_dataset",
            ],
            "nas.supernet._evaluate": [
                "ArchEvaluator",
                "Scores",
                "SupernetEvaluator",
                "evaluate_arch",
                "recalibrate_bn",
                "score",
            ],
            "nas.supernet._export": [
                "ExportError",
                "ExportedSubnet",
                "export_subnet",
                "load_subnet",
            ],
            "nas.supernet._latency": ["measure_latency"],
            "nas.supernet._metrics": ["METRICS", "Metric", "MetricContext"],
            "nas.supernet._network": ["ElasticLayer", "Residual", "Supernet"],
            "nas.supernet._objective": [
                "SupernetNotTrainedError",
                "SupernetObjective",
                "parse_supernet_objective",
            ],
            "nas.supernet._ops": ["DynamicBatchNorm2d", "DynamicConv2d", "DynamicLinear"],
            "nas.supernet._quant": ["ConvQuantizer", "init_quantizers"],
            "nas.supernet._quant_static": ["QuantizedConv2d", "QuantizedLinear"],
            "nas.supernet._plugins": ["PATH_SAMPLERS", "SPLIT_POLICIES"],
            "nas.supernet._samplers": [
                "PadaSampler",
                "PathLoss",
                "PathSampler",
                "SandwichSampler",
                "UniformSampler",
                "create_sampler",
            ],
            "nas.supernet._train": [
                "DeviceError",
                "GradientVariance",
                "SupernetTrainer",
                "TrainerHook",
                "build_supernet",
                "check_device",
            ],
        },
    )

__all__ = [
    "Arch",
    "BenchReport",
    "check_bench_options",
    "load_bench_ground_truth",
    "quant_bench",
    "ranking_bench",
    "SPLIT_SPACES",
    "split_tables",
    "split_tree",
    "splits_bench",
    "splits_bench_configs",
    "write_bench_json",
    "arch_cost",
    "ARCH_OPS",
    "ArchCost",
    "ArchEvaluator",
    "ArchMask",
    "ArchSpace",
    "augment_batch",
    "build_supernet",
    "check_device",
    "ConvQuantizer",
    "create_sampler",
    "DatasetError",
    "DeviceError",
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "DynamicLinear",
    "ElasticLayer",
    "EvalConfig",
    "evaluate_arch",
    "export_subnet",
    "ExportedSubnet",
    "ExportError",
    "Family",
    "FamilyEvaluator",
    "FamilyTrainer",
    "gradient_distances",
    "GradientVariance",
    "ImageDataset",
    "init_quantizers",
    "LayerChoice",
    "Leaf",
    "load_cifar10",
    "load_digits_images",
    "load_image_dataset",
    "load_subnet",
    "measure_latency",
    "Metric",
    "MetricContext",
    "METRICS",
    "min_cut_partition",
    "PadaSampler",
    "parse_supernet_definition",
    "parse_supernet_objective",
    "PATH_SAMPLERS",
    "PathLoss",
    "PathSampler",
    "QuantChoice",
    "quant_cost",
    "QuantizedConv2d",
    "QuantizedLinear",
    "QuantSpec",
    "QuantTrainConfig",
    "recalibrate_bn",
    "Residual",
    "SandwichSampler",
    "score",
    "Scores",
    "SKIPPED",
    "SlotScore",
    "SPLIT_POLICIES",
    "SplitConfig",
    "SplitPolicy",
    "SplitRecord",
    "StageSpec",
    "Supernet",
    "SupernetDefinition",
    "SupernetEvaluator",
    "SupernetNotTrainedError",
    "SupernetObjective",
    "SupernetTrainer",
    "TrainConfig",
    "TrainerHook",
    "UniformSampler",
]
