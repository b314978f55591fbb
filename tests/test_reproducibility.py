"""The reproducibility mode: the environment pinned before torch is imported, and its record."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from galcnn.cnn import runtime
from galcnn.pipeline import reproducibility

#: Prints the kernel level and threads torch runs with after pin_environment(argv[1], 1).
PINNED = """
import sys
from galcnn.pipeline import reproducibility
reproducibility.pin_environment(sys.argv[1], 1)
assert "torch" not in sys.modules  # the helper imports no torch
import torch
print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())
"""


def run_python(code, *args, **env):
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_mode_is_refused_naming_the_choices():
    with pytest.raises(
        ValueError, match=r"reproducibility is 'exact'; set it to one of \['native', 'portable'\]"
    ):
        reproducibility.job_threads("exact", 4, 2)


def test_portable_jobs_run_on_the_configured_threads_native_ones_on_what_snakemake_grants():
    assert reproducibility.job_threads("portable", 8, 2) == 8
    assert reproducibility.job_threads("native", 8, 2) == 2


def test_portable_caps_the_kernels_whatever_the_caller_set_and_native_keeps_the_callers():
    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip(f"this CPU runs {torch.backends.cpu.get_cpu_capability()} kernels, below AVX2")
    portable = run_python(PINNED, "portable", ATEN_CPU_CAPABILITY="default")
    assert portable.returncode == 0, portable.stderr
    assert portable.stdout.split() == ["AVX2", "1"]
    native = run_python(PINNED, "native", ATEN_CPU_CAPABILITY="default")
    assert native.returncode == 0, native.stderr
    assert native.stdout.split() == ["DEFAULT", "1"]


def test_pinning_after_torch_is_imported_is_refused():
    late = run_python(
        "import torch\nfrom galcnn.pipeline import reproducibility\nreproducibility.pin_environment('portable', 1)"
    )
    assert late.returncode != 0 and "must run before torch is imported" in late.stderr


def test_the_record_names_the_mode_kernels_threads_and_versions(monkeypatch):
    for name, value in reproducibility.PORTABLE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    before = torch.are_deterministic_algorithms_enabled()
    try:
        runtime.configure("portable")
        torch.set_num_threads(1)
        record = runtime.provenance("portable")
        assert record["deterministic_algorithms"] is True
    finally:
        torch.use_deterministic_algorithms(before)
    assert record["mode"] == "portable" and record["intra_op_threads"] == 1
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["environment"]["ATEN_CPU_CAPABILITY"] == "avx2"
    assert {"python", "torch", "torchvision", "numpy", "cuda"} <= set(record["versions"])
