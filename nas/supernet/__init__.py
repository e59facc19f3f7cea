"""Weight-sharing supernets for architecture search.

An :class:`ArchSpace` (YAML under a ``supernet`` key, e.g. ``search_spaces/digits_cnn.yaml``)
defines the architectures and is an ordinary search space to every searcher
(:attr:`ArchSpace.search_space`); a :class:`Supernet` holds all of them in shared weights,
activates one (:meth:`Supernet.set_active`, :meth:`Supernet.sample`) and extracts it as a
standalone network (:meth:`Supernet.extract`); :mod:`nas.supernet._cost` counts MACs and
parameters and measures latency; :func:`load_image_dataset` loads digits (embedded) or
CIFAR-10 from a user's directory (never downloaded); :class:`SupernetTrainer` trains with a
path sampler (``uniform``, ``sandwich``, ``pada``) and :func:`evaluate_arch` scores an
architecture with inherited weights after batch-norm recalibration. Training is data-parallel
over the processes of a ``torch.distributed`` group when one is initialised
(``torchrun -m nas.supernet.train STUDY.yaml``, :mod:`nas.supernet.train`).

Example::

    import numpy as np
    from nas.supernet import ArchSpace, Supernet

    space = ArchSpace.from_yaml("search_spaces/digits_cnn.yaml")
    net = Supernet(space)
    arch = net.sample(np.random.default_rng(0))
    standalone = net.extract(arch)
"""

from __future__ import annotations

from nas.supernet._arch import OPS, Arch, ArchSpace, LayerChoice, StageSpec
from nas.supernet._cost import ArchCost, arch_cost, measure_latency
from nas.supernet._data import (
    DatasetError,
    ImageDataset,
    load_cifar10,
    load_digits_images,
    load_image_dataset,
)
from nas.supernet._export import ExportedSubnet, ExportError, export_subnet, load_subnet
from nas.supernet._network import ElasticLayer, Residual, Supernet
from nas.supernet._objective import (
    METRICS,
    SupernetNotTrainedError,
    SupernetObjective,
    parse_supernet_objective,
)
from nas.supernet._ops import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear
from nas.supernet._samplers import (
    PadaSampler,
    PathSampler,
    SandwichSampler,
    UniformSampler,
    create_sampler,
)
from nas.supernet._train import (
    DeviceError,
    SupernetTrainer,
    TrainConfig,
    build_supernet,
    check_device,
    evaluate_arch,
    recalibrate_bn,
)

__all__ = [
    "METRICS",
    "OPS",
    "Arch",
    "ArchCost",
    "ArchSpace",
    "DatasetError",
    "DeviceError",
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "DynamicLinear",
    "ElasticLayer",
    "ExportError",
    "ExportedSubnet",
    "ImageDataset",
    "LayerChoice",
    "PadaSampler",
    "PathSampler",
    "Residual",
    "SandwichSampler",
    "StageSpec",
    "Supernet",
    "SupernetNotTrainedError",
    "SupernetObjective",
    "SupernetTrainer",
    "TrainConfig",
    "UniformSampler",
    "arch_cost",
    "build_supernet",
    "check_device",
    "create_sampler",
    "evaluate_arch",
    "export_subnet",
    "load_cifar10",
    "load_digits_images",
    "load_image_dataset",
    "load_subnet",
    "measure_latency",
    "parse_supernet_objective",
    "recalibrate_bn",
]
