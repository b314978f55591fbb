"""Predictions of a trained model, with test-time augmentation (TTA).

TTA averages the predictions for the eight dihedral transforms of each image
(FACTS.md, "test-time augmentation"); the un-augmented prediction is kept
beside it (``pred_notta``) so both can be compared, and the spread of the
transforms' predictions (``spread``), from which the uncertainties of
:mod:`galcnn.calibration` are made.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from galcnn import data
from galcnn import io as gio
from galcnn.augment import N_DIHEDRAL, dihedral
from galcnn.model import ResNetRegressor

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("objID", "set", "true", "pred", "pred_notta", "spread")


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
) -> np.ndarray:
    """Predictions for ``images[rows]`` under each TTA transform: T × len(rows), the
    identity first.

    Without ``tta`` only the identity transform is computed (T = 1). The same holds
    for 1 × 1 images: all eight transforms leave them unchanged, so the model runs once.
    """
    model.eval()
    fmt = data.memory_format(device)
    dtype = data.amp_dtype(device, amp)
    transforms = range(N_DIHEDRAL) if tta and min(images.shape[1:3]) > 1 else range(1)
    out = np.empty((len(transforms), len(rows)), dtype=np.float64)
    batches = data.iterate_batches(images, rows, None, batch_size, device)
    for xb, _, positions in tqdm(batches, total=-(-len(rows) // batch_size), desc="predict", mininterval=10, leave=False):
        x = data.to_model_input(xb, bands)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            outs = torch.stack([model(dihedral(x, k).contiguous(memory_format=fmt)).float() for k in transforms])
        out[:, positions] = outs.cpu().double().numpy()
    return out


def predict_rows(
    model: nn.Module,
    images: np.ndarray,
    rows: np.ndarray,
    bands: str,
    batch_size: int,
    device: torch.device,
    tta: bool = True,
    amp: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(TTA mean, plain prediction) for ``images[rows]``, in the order of ``rows``."""
    outs = predict_transforms(model, images, rows, bands, batch_size, device, tta=tta, amp=amp)
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
    threads: int = 1,
    device: str | None = None,
) -> pd.DataFrame:
    """Predictions of one fold's model for the test set and its own validation fold,
    written to ``out_path`` (columns objID, set, true, pred, pred_notta, spread)."""
    torch.set_num_threads(max(1, int(threads)))
    dev = data.pick_device(device)
    model, meta = load_model(model_path, dev)
    images, subsets = data.load_fold(images_path, index_path, splits_path, catalog_path, target=meta["target"], res=int(meta["res"]), fold=int(meta["fold"]))
    log.info("predicting %s (%s, %d px, fold %d) on %s, TTA %s", meta["target"], meta["bands"], meta["res"], meta["fold"], dev, tta)
    frames = []
    for name in ("test", "validation"):
        sub = subsets[name]
        outs = predict_transforms(model, images, sub.rows, meta["bands"], batch_size, dev, tta=tta, amp=bool(meta["train"]["amp"]))
        # spread: the spread (ddof 0) of the transforms' predictions, 0 without TTA or at 1 px.
        frame = {"pred": outs.mean(axis=0), "pred_notta": outs[0], "spread": outs.std(axis=0)}
        frames.append(pd.DataFrame({"objID": sub.objid, "set": name, "true": sub.y, **frame}))
    out = pd.concat(frames, ignore_index=True)
    gio.write_parquet(out_path, out)
    log.info("wrote %d test and %d validation predictions to %s", len(subsets["test"]), len(subsets["validation"]), out_path)
    return out
