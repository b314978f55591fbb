"""Portable models: one folder per configuration that predicts without the workflow.

``snakemake export`` writes, for each trained (target, bands, resolution)::

    results/export/oh_p50/gri/32px/
        fold0.pt ... fold<k-1>.pt   # each fold's weights, as training saved them
        model.json                  # what the weights need and what they achieved

``model.json`` holds the architecture, the bands and resolution, the input format and
normalisation, each fold's target scaling, the test-time augmentation, the
uncertainty calibration factor (:mod:`galcnn.calibration`), the intra-op thread count the
workflow predicted with (``threads``), the training settings, the test-set metrics, the
library versions, each fold's reproducibility record (mode, instruction set, threads:
:func:`galcnn.cnn.runtime.provenance`), and the size and sha256 of every weight file.
:func:`load` checks every file against it and returns a :class:`PortableModel`, whose
:meth:`PortableModel.predict` takes RGB uint8 images (the SkyServer colour cutouts,
R, G, B = i, r, g; any size that is a multiple of the model's resolution, area-averaged
to it as in training) and returns the prediction, its calibrated uncertainty and the
number of predictions behind it, on CPU or GPU.

Predictions are made under model.json's ``threads`` whatever the caller's torch setting
(restored afterwards), so on the same machine they reproduce the workflow's own prediction
tables bit for bit: the rounding of CPU convolutions depends on the thread count
(:mod:`galcnn.cnn.predict`). ``load(folder, threads=n)`` overrides it, at the price of
last-bit (~1e-8) differences from the workflow's tables.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from galcnn import calibration, images, metrics, storage
from galcnn.cnn import data, runtime
from galcnn.cnn.augment import augment_settings
from galcnn.cnn.model import IMAGENET_MEAN, IMAGENET_STD
from galcnn.cnn.predict import TTA_MODES, load_model, predict_transforms, torch_threads, tta_copies
from galcnn.names import safe_name
from galcnn.paths import EXPORT_FOLD
from galcnn.paths import EXPORT_MANIFEST as MODEL_JSON

log = logging.getLogger(__name__)

FORMAT = "galcnn-model"
#: Raised whenever model.json's layout or meaning changes (3: ``threads``).
FORMAT_VERSION = 3


class ModelFolderError(ValueError):
    """An export folder whose files do not match its model.json; the message names the file."""


def weight_name(fold: int) -> str:
    return EXPORT_FOLD.format(fold=int(fold))


def _file_entry(path: Path) -> dict:
    with open(path, "rb") as fh:
        size, digest = storage.sha256_stream(fh)
    return {"bytes": size, "sha256": digest}


def export_model(
    out_dir: str | Path,
    model_paths: dict[int, str | Path],
    train_configs: dict[int, dict],
    test_predictions: pd.DataFrame,
    uncertainty: dict,
    tta: bool,
    tta_mode: str,
    threads: int,
) -> dict:
    """Copy each fold's weights into ``out_dir`` and write its model.json (returned).

    ``train_configs`` are the folds' config.json, ``test_predictions`` the fold
    ensemble's test predictions, ``uncertainty`` the output of
    :func:`galcnn.calibration.calibrate`, ``threads`` the intra-op thread count those
    predictions were made with (and every prediction of the model will be). The weights are written first and
    model.json last, each atomically, so a folder with a model.json is complete.
    """
    out = Path(out_dir)
    folds = sorted(int(k) for k in model_paths)
    first = train_configs[folds[0]]
    for k in folds:
        cfg = train_configs[k]
        if (cfg["target"], cfg["bands"], cfg["res"]) != (
            first["target"],
            first["bands"],
            first["res"],
        ):
            raise ValueError(
                f"fold {k}'s model is of {cfg['target']}/{cfg['bands']}/{cfg['res']}px, "
                f"fold {folds[0]}'s of {first['target']}/{first['bands']}/{first['res']}px"
            )
    files, scaling = {}, {}
    for k in folds:
        raw = Path(model_paths[k]).read_bytes()
        storage.write_bytes(out / weight_name(k), raw)
        files[weight_name(k)] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)["state_dict"]
        scaling[str(k)] = {"y_mean": float(state["y_mean"]), "y_std": float(state["y_std"])}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "target": first["target"],
        "bands": first["bands"],
        "resolution": int(first["res"]),
        "architecture": {
            "arch": first["train"]["arch"],
            "head": "fastai: concat pool, BN, dropout 0.25, 512, ReLU, BN, dropout 0.5, 1",
        },
        "input": {
            "dtype": "uint8",
            "channels": "RGB = i, r, g (SkyServer colour JPEG)",
            "layout": "N x H x W x 3; H = W a multiple of the resolution, area-averaged to it",
            "scale": "x / 255",
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
            "r_only": first["bands"] == "r",
        },
        "target_scaling": {
            "description": "prediction = head output * y_std + y_mean, per fold",
            "folds": scaling,
        },
        "tta": {
            "enabled": bool(tta),
            "mode": tta_mode,
            "n": tta_copies(tta_mode, int(first["res"])) if tta else 1,
        },
        "threads": int(threads),
        "calibration": {
            "sigma": "factor x root mean square over the folds of each fold's spread (std) over the TTA transforms",
            **uncertainty,
        },
        "training": {
            "seed": first["seed"],
            "settings": first["train"],
            "n_train": first["n_train"],
            "n_validation": first["n_validation"],
        },
        "test_metrics": {
            "n": len(test_predictions),
            "rmse": metrics.rmse(test_predictions["pred"], test_predictions["true"]),
            "nmad": metrics.nmad(test_predictions["pred"], test_predictions["true"]),
        },
        "versions": runtime.versions(),
        # Each fold's training: the mode, instruction set, threads and versions its bits depend on.
        "reproducibility": {str(k): train_configs[k]["reproducibility"] for k in folds},
        "files": files,
    }
    storage.write_json(out / MODEL_JSON, meta)
    log.info(
        "exported %s/%s/%d px (%d folds) to %s",
        meta["target"],
        meta["bands"],
        meta["resolution"],
        len(folds),
        out,
    )
    return meta


def read_meta(folder: str | Path) -> dict:
    """model.json of an export folder, its weight files checked against their sha256."""
    folder = Path(folder)
    path = folder / MODEL_JSON
    if not path.is_file():
        raise ModelFolderError(
            f"{folder} has no {MODEL_JSON}: not an exported model folder (make one with `snakemake export`)"
        )
    try:
        meta = json.loads(path.read_text())
        kind, version, files = meta["format"], meta["format_version"], meta["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFolderError(f"{path} is not a galcnn model description: {exc!r}") from exc
    if kind != FORMAT or version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{path} is format {kind!r} version {version!r}; this galcnn reads {FORMAT!r} version {FORMAT_VERSION}"
        )
    _check_meta(meta, path)
    for name, entry in files.items():
        file = folder / name
        if not file.is_file():
            raise ModelFolderError(
                f"{file} is listed in {path} but missing; export the model again"
            )
        found = _file_entry(file)
        if found != {"bytes": entry["bytes"], "sha256": entry["sha256"]}:
            raise ModelFolderError(
                f"{file} does not match {path}: {found['bytes']} bytes, "
                f"sha256 {found['sha256']}; expected {entry['bytes']} bytes, "
                f"sha256 {entry['sha256']}. The file was changed or damaged; export the model again"
            )
    return meta


def _check_meta(meta: dict, path: Path) -> None:
    """What predicting reads from model.json, each with its type and range: a hand-edited
    ``"enabled": "false"`` (a non-empty string, so true) or a negative factor would otherwise
    change the predictions silently, and a file name with ``../`` would be read from elsewhere."""

    def bad(key, value, want):
        raise ModelFolderError(f"{path}: {key} is {value!r}, not {want}; export the model again")

    def get(*keys):
        value = meta
        for i, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                raise ModelFolderError(
                    f"{path} lacks {'.'.join(keys[: i + 1])}; export the model again"
                )
            value = value[key]
        return value

    files = get("files")
    if not isinstance(files, dict) or not files:
        bad("files", files, "a mapping of weight files to their bytes and sha256")
    for name, entry in files.items():
        try:
            safe_name(name, f"{path}: files entry")
        except ValueError as err:
            raise ModelFolderError(f"{err}; a model folder lists its own files only") from None
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("bytes"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            bad(f"files[{name!r}]", entry, "{bytes: <int>, sha256: <hex>}")
    if not isinstance(get("target"), str):
        bad("target", meta["target"], "a target name")
    if get("bands") not in images.BANDS:
        bad("bands", meta["bands"], f"one of {list(images.BANDS)}")
    res = get("resolution")
    if isinstance(res, bool) or not isinstance(res, int) or res < 1:
        bad("resolution", res, "a whole number of pixels")
    if not isinstance(get("tta", "enabled"), bool):
        bad("tta.enabled", meta["tta"]["enabled"], "true or false")
    if get("tta", "mode") not in TTA_MODES:
        bad("tta.mode", meta["tta"]["mode"], f"one of {list(TTA_MODES)}")
    factor = get("calibration", "factor")
    if factor is not None and (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not math.isfinite(factor)
        or factor < 0
    ):
        bad("calibration.factor", factor, "a finite number, 0 or more, or null")


class PortableModel:
    """Every fold's model of one configuration, its calibration and its input format."""

    def __init__(
        self,
        meta: dict,
        models: list[torch.nn.Module],
        trainings: list[dict],
        device: torch.device,
        threads: int | None = None,
    ):
        self.meta = meta
        self.models = models
        #: Each fold's saved metadata: its training augmentation and fold, which fastai TTA repeats.
        self.trainings = trainings
        self.device = device
        #: torch's intra-op threads during :meth:`predict`: model.json's unless overridden.
        self.threads = int(meta["threads"] if threads is None else threads)

    @property
    def factor(self) -> float:
        """The calibration factor; NaN when none could be fitted (no prediction spread)."""
        f = self.meta["calibration"]["factor"]
        return float("nan") if f is None else float(f)

    def prepare(self, rgb) -> np.ndarray:
        """uint8 N × S × S × 3 at the model's resolution (one image may omit N)."""
        arr = np.asarray(rgb)
        if arr.ndim == 3:
            arr = arr[None]
        res = int(self.meta["resolution"])
        if (
            arr.dtype != np.uint8
            or arr.ndim != 4
            or arr.shape[-1] != 3
            or arr.shape[1] != arr.shape[2]
        ):
            raise ValueError(
                "images must be uint8 RGB arrays N x S x S x 3 (or S x "
                f"S x 3), got shape {arr.shape} and dtype {arr.dtype}"
            )
        if arr.shape[1] % res:
            raise ValueError(
                f"images of {arr.shape[1]} px cannot be area-averaged "
                f"to the model's {res} px; give a multiple of {res} px"
            )
        return arr if arr.shape[1] == res else images.area_average(arr, res)

    def predict(self, rgb, batch_size: int = 256) -> pd.DataFrame:
        """pred (mean of every fold × transform prediction), sigma (calibrated), sigma_raw
        (:func:`galcnn.calibration.model_spread`) and n_models (how many predictions), one row per image,
        computed under :attr:`threads` intra-op threads (the caller's count restored afterwards)."""
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(
                f"batch_size is {batch_size!r}; give a whole number of images, 1 or more"
            )
        arr = self.prepare(rgb)
        rows = np.arange(len(arr))
        tta, mode = bool(self.meta["tta"]["enabled"]), self.meta["tta"]["mode"]
        with torch_threads(self.threads):
            per_fold = [
                predict_transforms(
                    m,
                    arr,
                    rows,
                    self.meta["bands"],
                    batch_size,
                    self.device,
                    tta=tta,
                    tta_mode=mode,
                    augment=augment_settings(saved["train"]),
                    seed=int(saved["fold"]),
                )
                for m, saved in zip(self.models, self.trainings)
            ]
        raw = calibration.model_spread([p.std(axis=0) for p in per_fold])
        return pd.DataFrame(
            {
                "pred": np.mean([p.mean(axis=0) for p in per_fold], axis=0),
                "sigma": self.factor * raw,
                "sigma_raw": raw,
                "n_models": sum(p.shape[0] for p in per_fold),
            }
        )


def load(
    folder: str | Path, device: str | torch.device | None = None, threads: int | None = None
) -> PortableModel:
    """An exported model folder, checked against its model.json, ready on ``device``
    (default: CUDA, then Apple MPS, then CPU), predicting under ``threads`` intra-op threads
    (default: model.json's, the count the workflow's own predictions were made with)."""
    meta = read_meta(folder)
    dev = data.pick_device(str(device) if device is not None else None)
    models, trainings = [], []
    for name in sorted(meta["files"]):
        model, saved = load_model(Path(folder) / name, dev)
        if (saved["target"], saved["bands"], int(saved["res"])) != (
            meta["target"],
            meta["bands"],
            int(meta["resolution"]),
        ):
            raise ModelFolderError(
                f"{Path(folder) / name} holds a model of "
                f"{saved['target']}/{saved['bands']}/{saved['res']}px, not the {MODEL_JSON}'s"
            )
        models.append(model)
        trainings.append(saved)
    return PortableModel(meta, models, trainings, dev, threads)


def predict_packed(
    model: PortableModel, images_path: str | Path, index_path: str | Path, batch_size: int = 256
) -> pd.DataFrame:
    """objID and :meth:`PortableModel.predict`'s columns for a packed image array and its
    index (:mod:`galcnn.images`), read block by block."""
    arr = images.load_images(images_path)
    index = pd.read_parquet(index_path)
    data.check_images(arr, arr.shape[1], len(index))
    parts = [
        model.predict(np.asarray(arr[s : s + images.BLOCK]), batch_size)
        for s in range(0, len(arr), images.BLOCK)
    ]
    out = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["pred", "sigma", "sigma_raw", "n_models"])
    )
    out.insert(0, "objID", index.sort_values("row")["objID"].to_numpy(np.int64))
    return out
