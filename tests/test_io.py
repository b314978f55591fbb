"""Atomic outputs and job logging."""

import subprocess
import sys

import pytest

from galcnn import io


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    io.write_text(target, "done")
    assert target.read_text() == "done" and list(tmp_path.iterdir()) == [target]


def test_a_failing_job_writes_its_error_to_the_log_file(tmp_path):
    log = tmp_path / "job.log"
    code = f"from galcnn.io import setup_logging; setup_logging({str(log)!r}); raise ValueError('bad cutout size 48')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    text = log.read_text()
    assert "job failed" in text and "ValueError: bad cutout size 48" in text
