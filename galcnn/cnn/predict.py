"""Predictions of a trained model, with test-time augmentation (TTA).

TTA averages a model's predictions over transformed copies of each image; the
un-augmented prediction is kept beside it (``pred_notta``) so both can be
compared. Two modes (``predict.tta_mode``):

* ``fastai``, the authors' (fastai 0.7 ``learn.TTA()``): the original image and
  four copies under random training augmentations (the model's own ``train``
  settings: dihedral, zoom, rotation, lighting), averaged. Each image's draws come
  from a generator seeded by the model's fold and the image's position, so they
  do not depend on the batch size;
* ``dihedral``: the eight symmetries of the square, exact and deterministic.

The spread of the copies' predictions (``spread``) is kept too: the uncertainties of
:mod:`galcnn.calibration` are made from it.

Thread count. On CPU, float32 convolutions split their work over torch's intra-op threads and
round differently with their number (last bits, ~1e-8 relative, on AVX-512 machines), so a
prediction is reproducible only with the thread count it was made with. Rather than make the
computation thread-invariant (one thread, or a fixed split, at a large cost in speed), every
prediction of a model runs under one fixed count: :func:`predict_cnn` under the configured
``resources.predict.threads`` (not the job's share of ``--cores``, which Snakemake may lower),
recorded in the exported model's ``model.json`` (``threads``), whose
:meth:`galcnn.cnn.portable.PortableModel.predict` runs under it too (:func:`torch_threads`)
whatever the caller's own setting.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from galcnn import storage
from galcnn.cnn import data, runtime
from galcnn.cnn.augment import N_DIHEDRAL, augment_batch, augment_settings, dihedral
from galcnn.cnn.model import ResNetRegressor

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("objID", "set", "true", "pred", "pred_notta", "spread")
TTA_MODES = ("dihedral", "fastai")
#: Randomly augmented copies beside the original in fastai 0.7's TTA (n_aug=4).
N_FASTAI_AUGMENTED = 4


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` for the block, the caller's restored
    after: the count changes the rounding of CPU convolutions (module docstring)."""
    n = int(threads)
    if n < 1:
        raise ValueError(f"a prediction's thread count must be at least 1, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tta_copies(mode: str, res: int) -> int:
    """How many copies of a ``res`` px image (its original included) TTA averages in ``mode``;
    every symmetry leaves a 1 x 1 image unchanged, so dihedral TTA runs the model once there."""
    if mode == "dihedral":
        return N_DIHEDRAL if res > 1 else 1
    return 1 + N_FASTAI_AUGMENTED


def _tta_copies(
    x: torch.Tensor, positions: np.ndarray, mode: str, augment: dict | None, seed: int
) -> list[torch.Tensor]:
    """The transformed copies of batch ``x`` to average, the original first."""
    if mode == "dihedral":
        return [dihedral(x, k) for k in range(tta_copies(mode, min(x.shape[2:])))]
    gens = [
        torch.Generator().manual_seed(
            int(np.random.SeedSequence([seed, int(p)]).generate_state(1)[0])
        )
        for p in positions
    ]
    return [x] + [augment_batch(x, generator=gens, **augment) for _ in range(N_FASTAI_AUGMENTED)]


@torch.no_grad()
def predict_transforms(
    model: nn.Module,
    images: np.ndarray,
    rows: np.ndarray,
    bands: str,
    batch_size: int,
    device: torch.device,
    tta: bool = True,
    amp: bool = False,
    tta_mode: str = "dihedral",
    augment: dict | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Predictions for ``images[rows]`` under each TTA copy: T × len(rows), the original first.

    Without ``tta`` only the original image is predicted (T = 1); so it is in ``dihedral``
    mode for 1 × 1 images, which every symmetry leaves unchanged. ``tta_mode`` is one of
    :data:`TTA_MODES`; ``fastai`` needs ``augment`` (:func:`galcnn.cnn.augment.augment_settings`
    of the model's training) and ``seed``.
    """
    if tta_mode not in TTA_MODES:
        raise ValueError(
            f"unknown TTA mode {tta_mode!r}; predict.tta_mode must be one of {list(TTA_MODES)}"
        )
    if tta and tta_mode == "fastai" and augment is None:
        raise ValueError(
            "fastai TTA repeats the training augmentation: pass augment (the model's train settings)"
        )
    model.eval()
    fmt = data.memory_format(device, training=False)
    dtype = data.amp_dtype(device, amp)
    out = None
    batches = data.iterate_batches(images, rows, None, batch_size, device)
    with inference_layout(model, device):
        for xb, _, positions in tqdm(
            batches, total=-(-len(rows) // batch_size), desc="predict", mininterval=10, leave=False
        ):
            x = data.to_model_input(xb, bands)
            with torch.autocast(
                device.type, dtype=dtype or torch.float32, enabled=dtype is not None
            ):
                copies = _tta_copies(x, positions, tta_mode, augment, seed) if tta else [x]
                outs = torch.stack([model(c.contiguous(memory_format=fmt)).float() for c in copies])
            if out is None:
                out = np.empty((len(copies), len(rows)), dtype=np.float64)
            out[:, positions] = outs.cpu().double().numpy()
    return out if out is not None else np.empty((1, 0), dtype=np.float64)


@contextlib.contextmanager
def inference_layout(model: nn.Module, device: torch.device) -> Iterator[None]:
    """The weights in the inference memory layout while predicting, then back in the training
    one (:func:`galcnn.cnn.data.memory_format`): a layout change moves values without changing
    them, so a validation pass between epochs leaves training's bits as they were."""
    inference, training = (data.memory_format(device, t) for t in (False, True))
    if inference == training:
        yield
        return
    model.to(memory_format=inference)
    try:
        yield
    finally:
        model.to(memory_format=training)


def predict_rows(
    model: nn.Module,
    images: np.ndarray,
    rows: np.ndarray,
    bands: str,
    batch_size: int,
    device: torch.device,
    tta: bool = True,
    amp: bool = False,
    tta_mode: str = "dihedral",
    augment: dict | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(TTA mean, plain prediction) for ``images[rows]``, in the order of ``rows``
    (:func:`predict_transforms`' arguments)."""
    outs = predict_transforms(
        model, images, rows, bands, batch_size, device, tta, amp, tta_mode, augment, seed
    )
    return outs.mean(axis=0), outs[0]


def load_model(path: str | Path, device: torch.device) -> tuple[ResNetRegressor, dict]:
    """A trained model (from ``model.pt``) on ``device``, and its metadata."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = ResNetRegressor(saved["arch"])
    model.load_state_dict(saved["state_dict"])
    model.to(device, memory_format=data.memory_format(device))
    meta = {k: v for k, v in saved.items() if k != "state_dict"}
    return model.eval(), meta


def predict_cnn(
    model_path: str | Path,
    images_path: str | Path,
    index_path: str | Path,
    splits_path: str | Path,
    catalog_path: str | Path,
    out_path: str | Path,
    *,
    batch_size: int,
    tta: bool = True,
    tta_mode: str = "dihedral",
    threads: int = 1,
    device: str | None = None,
    reproducibility: str = "native",
) -> pd.DataFrame:
    """Predictions of one fold's model for the test set and its own validation fold,
    written to ``out_path`` (columns objID, set, true, pred, pred_notta, spread), under
    ``threads`` intra-op threads (module docstring: the exported model repeats the count), in
    the run's ``reproducibility`` mode (:mod:`galcnn.pipeline.reproducibility`)."""
    runtime.configure(reproducibility)
    dev = data.pick_device(device)
    model, meta = load_model(model_path, dev)
    images, subsets = data.load_fold(
        images_path,
        index_path,
        splits_path,
        catalog_path,
        target=meta["target"],
        res=int(meta["res"]),
        fold=int(meta["fold"]),
    )
    log.info(
        "predicting %s (%s, %d px, fold %d) on %s with %d threads, TTA %s (%s)",
        meta["target"],
        meta["bands"],
        meta["res"],
        meta["fold"],
        dev,
        threads,
        tta,
        tta_mode,
    )
    frames = []
    for name in ("test", "validation"):
        sub = subsets[name]
        with torch_threads(threads):
            outs = predict_transforms(
                model,
                images,
                sub.rows,
                meta["bands"],
                batch_size,
                dev,
                tta=tta,
                amp=bool(meta["train"]["amp"]),
                tta_mode=tta_mode,
                augment=augment_settings(meta["train"]),
                seed=int(meta["fold"]),
            )
        # spread: the spread (ddof 0) of the copies' predictions, 0 without TTA or at 1 px (dihedral).
        frame = {"pred": outs.mean(axis=0), "pred_notta": outs[0], "spread": outs.std(axis=0)}
        frames.append(pd.DataFrame({"objID": sub.objid, "set": name, "true": sub.y, **frame}))
    out = pd.concat(frames, ignore_index=True)
    storage.write_parquet(out_path, out)
    log.info(
        "wrote %d test and %d validation predictions to %s",
        len(subsets["test"]),
        len(subsets["validation"]),
        out_path,
    )
    return out
