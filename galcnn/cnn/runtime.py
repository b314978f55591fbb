"""torch's side of the ``reproducibility`` mode (:mod:`galcnn.pipeline.reproducibility`): the
deterministic algorithms, and what a job ran with, for its config.json and the bundle."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import torch

from galcnn.pipeline import reproducibility

#: Libraries whose version changes the bits of a model.
PACKAGES = ("torch", "torchvision", "numpy")


def configure(mode: str) -> None:
    """torch set for ``mode`` in this process: in ``portable`` mode deterministic algorithms
    (an operation without one stops the job naming it) and cuDNN's deterministic kernels."""
    portable = reproducibility.check_mode(mode) == "portable"
    torch.use_deterministic_algorithms(portable)
    torch.backends.cudnn.deterministic = portable
    torch.backends.cudnn.benchmark = False


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["cuda"] = torch.version.cuda
    out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return out


def provenance(mode: str) -> dict:
    """What decides the bits of a model made in this process: the mode, the instruction set
    torch's kernels use, the kernel caps in effect, the thread counts and the library versions."""
    return {
        "mode": reproducibility.check_mode(mode),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "environment": {
            name: os.environ.get(name)
            for name in (*reproducibility.PORTABLE_ENVIRONMENT, *reproducibility.THREAD_VARIABLES)
        },
        "intra_op_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "versions": versions(),
    }
