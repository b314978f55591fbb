"""Atomic outputs and job logging."""

import subprocess
import sys

import pytest

from galcnn import storage


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with storage.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    storage.write_text(target, "done")
    assert target.read_text() == "done" and list(tmp_path.iterdir()) == [target]


def test_a_failing_job_writes_its_error_to_the_log_file(tmp_path):
    log = tmp_path / "job.log"
    code = (
        f"from galcnn.storage import setup_logging; setup_logging({str(log)!r}); "
        "raise ValueError('bad cutout size 48')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    text = log.read_text()
    assert "job failed" in text and "ValueError: bad cutout size 48" in text


def test_a_durable_write_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    import os

    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(
        os,
        "fsync",
        lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))) or fsync(fd),
    )
    monkeypatch.setattr(
        os, "replace", lambda a, b: events.append(("replace", str(a))) or replace(a, b)
    )
    target = tmp_path / "state.pt"
    with storage.atomic_path(target, durable=True) as tmp:
        tmp.write_bytes(b"state")
    assert events == [("fsync", str(tmp)), ("replace", str(tmp)), ("fsync", str(tmp_path))]
    assert target.read_bytes() == b"state"


@pytest.mark.parametrize("fallback", [False, True])
def test_open_memmap_reserves_the_array_or_fails_cleanly(tmp_path, monkeypatch, fallback):
    import errno
    import os

    import numpy as np

    if fallback:  # a filesystem without fallocate: the zeros are written instead
        monkeypatch.setattr(
            os, "posix_fallocate", lambda *a: (_ for _ in ()).throw(OSError(errno.EOPNOTSUPP, "no"))
        )
    array = storage.open_memmap(tmp_path / "a.npy", np.uint8, (50, 64, 64, 3))
    array[-1] = 7
    array.flush()
    del array
    loaded = np.load(tmp_path / "a.npy")
    assert loaded.shape == (50, 64, 64, 3) and loaded[-1].min() == 7 and loaded[:-1].max() == 0
    assert os.stat(tmp_path / "a.npy").st_blocks * 512 >= loaded.nbytes  # not sparse
    if fallback:
        monkeypatch.setattr(
            os,
            "pwrite",
            lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")),
        )
        with pytest.raises(OSError, match="No space left on device"):
            storage.open_memmap(tmp_path / "b.npy", np.uint8, (50, 64, 64, 3))
