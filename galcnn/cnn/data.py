"""From the packed arrays to device batches: fold subsets, band selection, prefetching.

Batches are gathered straight from the memory-mapped uint8 array (no JPEG
decoding per epoch), sent to the device as uint8 (4× less traffic than float)
and converted, normalised and augmented there. A background thread gathers
the next batch while the model computes on the current one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from galcnn.cnn.model import IMAGENET_MEAN, IMAGENET_STD
from galcnn.images import BANDS, load_images
from galcnn.splits import labelled, subset_masks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subset:
    """Galaxies of one subset: their objIDs, rows of the image array and target values."""

    objid: np.ndarray
    rows: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def fold_subsets(
    index: pd.DataFrame, splits: pd.DataFrame, catalog: pd.DataFrame, target: str, fold: int
) -> dict[str, Subset]:
    """Train / validation / test galaxies for ``fold`` and ``target``.

    Validation = rows of fold ``fold``; train = the other non-test rows; test =
    ``split == "test"``. Galaxies without an image or with a missing target
    (−9999 or non-finite) are dropped, and their counts logged.
    """
    table = labelled(index, splits, catalog, target)
    folds = sorted(int(f) for f in splits.loc[splits["split"] == "train", "fold"].unique())
    if fold not in folds:
        raise ValueError(
            f"fold {fold} is not in the splits (folds {folds}); the fold wildcard must be below config 'folds'"
        )
    masks = subset_masks(table, fold)
    out = {
        name: Subset(
            objid=table.loc[m, "objID"].to_numpy(np.int64),
            rows=table.loc[m, "row"].to_numpy(np.int64),
            y=table.loc[m, target].to_numpy(np.float64),
        )
        for name, m in masks.items()
    }
    log.info("fold %d, %s: %s", fold, target, ", ".join(f"{k} {len(v)}" for k, v in out.items()))
    return out


def load_fold(
    images_path, index_path, splits_path, catalog_path, *, target: str, res: int, fold: int
) -> tuple[np.ndarray, dict[str, Subset]]:
    """The memory-mapped ``res`` px images, checked against the index, and the
    train / validation / test subsets of ``fold`` for ``target``."""
    index = pd.read_parquet(index_path)
    images = load_images(images_path)
    check_images(images, res, len(index))
    return images, fold_subsets(
        index, pd.read_parquet(splits_path), pd.read_parquet(catalog_path), target, fold
    )


def pick_device(name: str | None = None) -> torch.device:
    """``name`` when given, else the best available: CUDA, then Apple MPS, then CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The autocast dtype for ``device``: bfloat16 on CUDA where supported (no loss
    scaling needed), else float16; None (full precision) off CUDA or without ``amp``."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def check_images(images: np.ndarray, res: int, n_index: int) -> None:
    """The packed array must be N × res × res × 3 uint8 with one row per index row."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (res, res, 3):
        raise ValueError(
            f"image array has shape {images.shape} and dtype {images.dtype}; expected (N, {res}, {res}, 3) uint8"
        )
    if images.shape[0] != n_index:
        raise ValueError(
            f"image array has {images.shape[0]} rows but the index has {n_index}; rebuild results/images"
        )


def memory_format(device: torch.device, training: bool = True) -> torch.memory_format:
    """channels_last on CUDA, where cuDNN's convolutions are fastest in NHWC. On the CPU the
    default layout for training and channels_last for inference: measured with oneDNN (AVX2, one
    thread, ResNet-18), NHWC predicts 1.6x faster at 32 px and 5x at 8 and 1 px, but trains
    about 20 % slower at 8 and 1 px (README, "Training and prediction"). Elsewhere (Apple MPS)
    the default layout."""
    if device.type == "cuda" or (device.type == "cpu" and not training):
        return torch.channels_last
    return torch.contiguous_format


def to_model_input(batch: torch.Tensor, bands: str) -> torch.Tensor:
    """uint8 N × H × W × 3 (RGB = i, r, g) → normalised float N × 3 × H × W.

    ``bands="r"`` keeps the green channel (the r band) in all three channels:
    the morphology-only diagnostic, which sees no colour.
    """
    if bands not in BANDS:
        raise ValueError(f"bands {bands!r} must be one of {list(BANDS)}")
    x = batch.permute(0, 3, 1, 2).float().div_(255.0)
    if bands == "r":
        x = x[:, 1:2].expand(-1, 3, -1, -1)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def batch_slices(n: int, batch_size: int, drop_last: bool, min_batch: int = 1) -> list[slice]:
    """Consecutive batches of ``n`` items; with ``drop_last`` a short last batch
    is left out unless it is the only one (the shuffle changes which images fall in it
    every epoch), and so is a last batch of fewer than ``min_batch`` items (training:
    BatchNorm needs more than one sample)."""
    if batch_size < 1:
        raise ValueError(f"batch size {batch_size} must be positive")
    out = [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(out) > 1:
        last = out[-1].stop - out[-1].start
        if (drop_last and last < batch_size) or last < min_batch:
            out.pop()
    return out


def iterate_batches(
    images: np.ndarray,
    rows: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    device: torch.device,
    drop_last: bool = False,
    prefetch: int = 2,
    min_batch: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, np.ndarray]]:
    """(uint8 images, float32 targets, positions) for consecutive batches of ``rows``.

    Images and targets are on ``device``; ``positions`` says which entries of
    ``rows`` the batch holds, in the batch's order.

    A background thread gathers each batch from the (memory-mapped) array while
    the caller computes on the previous one; rows are read in sorted order
    within a batch, which turns random access into forward scans of the file.
    """
    slices = batch_slices(len(rows), batch_size, drop_last, min_batch)
    pin = device.type == "cuda"
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def gather() -> None:
        try:
            for sl in slices:
                idx = rows[sl]
                order = np.argsort(idx, kind="stable")
                xb = torch.from_numpy(np.ascontiguousarray(images[idx[order]]))
                yb = (
                    None
                    if y is None
                    else torch.from_numpy(np.asarray(y[sl], dtype=np.float32)[order])
                )
                if pin:
                    xb = xb.pin_memory()
                    yb = None if yb is None else yb.pin_memory()
                if not put((sl.start + order, xb, yb)):
                    return
            put(None)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which re-raises
            put(err)

    worker = threading.Thread(target=gather, name="batch-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            positions, xb, yb = item
            yield (
                xb.to(device, non_blocking=pin),
                None if yb is None else yb.to(device, non_blocking=pin),
                positions,
            )
    finally:
        stop.set()
        worker.join()
