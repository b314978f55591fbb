"""Atomic file output and job logging shared by every stage.

Outputs are written to a temporary file in the destination folder and renamed
into place, so an interrupted job never leaves a truncated file that a later
run would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, suffix: str | None = None, *, durable: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the final suffix (or ``suffix``) so libraries that
    infer the format from the extension (numpy, matplotlib) behave. ``durable``
    flushes the file to disk before the rename and the folder after it, so a
    power cut leaves the old file or the new one, never an empty one (the
    rename can reach the disk before the data otherwise).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or "".join(path.suffixes)
    )
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        tmp.chmod(0o666 & ~_UMASK)
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
        if durable:
            _fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_memmap(path: str | os.PathLike, dtype, shape: tuple[int, ...]) -> np.memmap:
    """A new ``.npy`` file opened as a writable memory map, its blocks reserved on disk first.

    A sparse memory-mapped file that meets a full disk kills the process with SIGBUS
    (and no clean-up runs); reserving the blocks turns that into an ``OSError`` here.
    """
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    size = os.path.getsize(path)
    try:
        with open(path, "r+b") as fh:
            _reserve(fh.fileno(), array.offset, size)
    except OSError as exc:
        del array
        raise OSError(
            exc.errno,
            f"cannot reserve {size / 1e9:.2f} GB for {Path(path).name} in {Path(path).parent} "
            f"({exc.strerror}); free disk space and rerun",
        ) from exc
    return array


def _reserve(fd: int, start: int, end: int) -> None:
    """Allocate bytes ``start:end`` of the file (the array after the .npy header)."""
    try:
        os.posix_fallocate(fd, start, end - start)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        # A filesystem without fallocate: write the zeros, which a full disk refuses too.
        zeros = bytes(1 << 20)
        for at in range(start, end, len(zeros)):
            os.pwrite(fd, zeros[: min(len(zeros), end - at)], at)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_parquet(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def sha256_stream(stream: IO[bytes], chunk: int = 1 << 20) -> tuple[int, str]:
    """(size in bytes, sha256 hex digest) of everything left in ``stream``, read in chunks."""
    digest, size = hashlib.sha256(), 0
    while block := stream.read(chunk):
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def setup_logging(
    log_path: str | os.PathLike | None = None, level: int = logging.INFO
) -> logging.Logger:
    """Log to the job's ``log:`` file (and stderr), the way every script starts."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return logging.getLogger("galcnn")


def _log_uncaught(exc_type, exc, tb) -> None:
    """A job's error goes to its log file too (Snakemake shows that file when a job fails);
    the interpreter still exits non-zero."""
    logging.getLogger("galcnn").critical("job failed", exc_info=(exc_type, exc, tb))
