"""The ``reproducibility`` mode of a run: the fastest kernels, or the same bits on any x86-64 machine.

A trained model depends on the CPU it was made on: PyTorch picks its vectorised kernels
(ATen) and oneDNN its convolutions, and MKL its matrix products, by the instruction set the
CPU offers (AVX-512, AVX2, ...), and each rounds differently, so a few SGD steps already give
other weights on another machine. The thread count splits the sums too.

* ``native``: the machine's fastest kernels and the job's threads (Snakemake's share of ``--cores``).
  Bit for bit on the same machine only.
* ``portable``: before torch is imported, the kernel level is capped at AVX2 for ATen, oneDNN
  and MKL (:data:`PORTABLE_ENVIRONMENT`), which every x86-64 CPU since about 2015 offers; the
  thread count is the configured one (``resources.train.threads``, ``resources.predict.threads``)
  whatever ``--cores`` grants; torch runs deterministic algorithms, and on CUDA cuBLAS gets a
  fixed workspace (GPUs of other models still differ: README). A CPU without AVX2, or another
  architecture (ARM), runs lower-level kernels and is not covered; the recorded instruction set
  (:func:`galcnn.cnn.runtime.provenance`) says which ran.

The environment must be set before torch is imported (ATen and oneDNN read it once), so
:func:`pin_environment` lives outside :mod:`galcnn.cnn` and imports no torch: a job's script
calls it first, then imports the package's torch modules.
"""

from __future__ import annotations

import os
import sys

MODES = ("native", "portable")
#: The kernel level every x86-64 CPU of the last decade runs, for each library that picks its own.
PORTABLE_ENVIRONMENT = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    # cuBLAS is deterministic only with a fixed workspace (torch.use_deterministic_algorithms needs it).
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}
#: What :func:`pin_environment` sets besides :data:`PORTABLE_ENVIRONMENT`: the thread pools' sizes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"reproducibility is {mode!r}; set it to one of {list(MODES)}")
    return mode


def job_threads(mode: str, configured: int | None, granted: int) -> int:
    """The intra-op threads of a torch job: in ``portable`` mode the configured count (the
    same on every machine), in ``native`` mode what Snakemake granted the job."""
    return int(configured) if check_mode(mode) == "portable" else int(granted)


def pin_environment(mode: str, threads: int) -> dict[str, str]:
    """Set the environment of ``mode`` for a job that uses ``threads`` threads; returns what
    was set. Call it before torch is imported: in ``portable`` mode it overrides any kernel
    cap the caller set (the point is that the machine and the caller do not matter)."""
    check_mode(mode)
    if "torch" in sys.modules:
        raise RuntimeError(
            "galcnn.pipeline.reproducibility.pin_environment must run before torch is imported "
            "(ATen and oneDNN read their kernel level once); call it at the top of the job's script"
        )
    pins = {name: str(int(threads)) for name in THREAD_VARIABLES}
    if mode == "portable":
        pins.update(PORTABLE_ENVIRONMENT)
    os.environ.update(pins)
    return pins
