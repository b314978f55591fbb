"""The GPU benchmark's fallback without CUDA: the same training and TTA code on a tiny array."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

#: A benchmark run as a test: the full tier only.
pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parent / "benchmarks" / "gpu_train.py"


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="with CUDA the benchmark runs at the paper's size (minutes)"
)
def test_gpu_benchmark_runs_its_cpu_fallback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device",
            "cpu",
            "--threads",
            "1",
            "--scratch",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("no CUDA device (cpu): a tiny version")
    last = re.fullmatch(
        r"gpu_train device=cpu images_per_s=(\S+) s_per_epoch=(\S+) tta_ms_per_image=(\S+) peak_gpu_mb=nan",
        lines[-1],
    )
    assert last, lines[-1]
    rate, epoch_s, tta_ms = (float(v) for v in last.groups())
    assert rate > 0 and epoch_s > 0 and tta_ms > 0
    assert not list(tmp_path.iterdir())  # the synthetic array is removed
