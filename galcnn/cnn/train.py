"""Training one CNN: one target, band set, resolution and fold (docs/paper.md, "Model and training").

RMSE loss, SGD with momentum, the two-stage schedule of :mod:`galcnn.cnn.schedule`
and on-device augmentation (:mod:`galcnn.cnn.augment`). The regression is in dex as
the authors' (``train.standardize_target: false``) or on the standardised
target (see :class:`galcnn.cnn.model.ResNetRegressor`). After every epoch the whole state
(weights, optimiser, loss scaler, random generators, history) is saved to a
checkpoint beside the outputs; a job that is killed (a preempted SLURM job) and
started again resumes after the last finished epoch and gives the same model
as an uninterrupted run (:mod:`galcnn.cnn.checkpoint`). The checkpoint is removed
once the outputs exist.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from galcnn import metrics, storage
from galcnn.cnn import checkpoint as ckpts
from galcnn.cnn import data, runtime
from galcnn.cnn.augment import augment_batch, augment_settings
from galcnn.cnn.data import Subset
from galcnn.cnn.divergence import EpochGuard
from galcnn.cnn.model import ResNetRegressor
from galcnn.cnn.predict import predict_rows
from galcnn.cnn.schedule import Schedule
from galcnn.paths import CHECKPOINT as CHECKPOINT_NAME

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "stage", "phase", "train_loss", "val_loss", "lr", "seconds")
EVAL_BATCH_FACTOR = 4
#: A training batch of one image cannot be normalised by the head's BatchNorm: a last batch that
#: small is left out even where the short last batch is kept (train.drop_last false, fastai's).
TRAIN_MIN_BATCH = 2


def rmse_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """The paper's loss: sqrt(mean((pred − true)²))."""
    return torch.sqrt(torch.nn.functional.mse_loss(pred, true))


def job_seed(seed: int, target: str, bands: str, res: int, fold: int) -> int:
    """A seed per model from the config's seed, stable across runs and machines
    (``hash()`` of a string is salted per process, crc32 is not)."""
    words = [
        int(seed),
        zlib.crc32(target.encode()),
        zlib.crc32(bands.encode()),
        int(res),
        int(fold),
    ]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


@dataclass
class _Epochs:
    """What every epoch of one :func:`fit` shares: the model and data, the optimiser and its
    schedule, the random streams (all checkpointed) and the numeric settings."""

    model: ResNetRegressor
    images: np.ndarray
    train: Subset
    val: Subset
    bands: str
    device: torch.device
    schedule: Schedule
    steps: int
    batch_size: int
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    rng: np.random.Generator
    aug_gen: torch.Generator
    augment: dict
    dtype: torch.dtype | None
    amp: bool
    drop_last: bool

    def train_epoch(self, epoch: int, guard: EpochGuard) -> float:
        """One epoch of SGD steps on a fresh permutation; returns the training RMSE in the
        target's units (dex)."""
        model, schedule, fmt = self.model, self.schedule, data.memory_format(self.device)
        # The loss in the head's units: standard deviations of the target, or dex.
        loss_scale = model.y_std.item()
        model.train()
        perm = self.rng.permutation(len(self.train))
        sq_err, n_seen = 0.0, 0
        batches = data.iterate_batches(
            self.images,
            self.train.rows[perm],
            self.train.y[perm],
            self.batch_size,
            self.device,
            drop_last=self.drop_last,
            min_batch=TRAIN_MIN_BATCH,
        )
        for i, (xb, yb, _) in enumerate(
            tqdm(batches, total=self.steps, desc=f"epoch {epoch}", mininterval=10, leave=False)
        ):
            for group, lr in zip(self.opt.param_groups, schedule.lrs_at(epoch * self.steps + i)):
                group["lr"] = lr
            x = augment_batch(
                data.to_model_input(xb, self.bands), generator=self.aug_gen, **self.augment
            ).contiguous(memory_format=fmt)
            with torch.autocast(
                self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
            ):
                pred = model(x)
            loss = rmse_loss(pred, yb) / loss_scale
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
            # One wait for the device per step, once the step's work is queued: the loss's value
            # serves the divergence check and the epoch's RMSE (a diverged step's weights are
            # discarded with the job; the last finite epoch's checkpoint is on disk).
            value = float(loss.detach())
            guard.check("training loss", value, self.opt, step=i)
            sq_err += value**2 * len(yb)
            n_seen += len(yb)
        return float(np.sqrt(sq_err / n_seen)) * loss_scale

    def validate(self) -> np.ndarray:
        """The validation predictions, without TTA."""
        # Without gradients a batch needs a fraction of the memory; larger ones run faster.
        eval_batch = EVAL_BATCH_FACTOR * self.batch_size
        pred, _ = predict_rows(
            self.model,
            self.images,
            self.val.rows,
            self.bands,
            eval_batch,
            self.device,
            tta=False,
            amp=self.amp,
        )
        return pred


def _prepare(
    model: ResNetRegressor,
    images: np.ndarray,
    train: Subset,
    val: Subset,
    settings: dict,
    bands: str,
    seed: int,
    device: torch.device,
) -> _Epochs:
    """The seeded random streams, the head set for the target, and the optimiser."""
    batch_size = min(int(settings["batch_size"]), len(train))
    drop_last = bool(settings.get("drop_last", True))  # models saved before the key dropped it
    steps = len(data.batch_slices(len(train), batch_size, drop_last, TRAIN_MIN_BATCH))
    schedule = Schedule.from_settings(settings, steps)
    dtype = data.amp_dtype(device, bool(settings["amp"]))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    aug_gen = torch.Generator().manual_seed(seed)
    standardize = bool(settings["standardize_target"])
    model.prepare_head(
        float(np.mean(train.y)), float(np.std(train.y)) or 1.0, standardize, settings["head_init"]
    )
    model.to(device, memory_format=data.memory_format(device))
    groups = [{"params": list(g.parameters())} for g in model.layer_groups()]
    opt = torch.optim.SGD(
        groups,
        lr=schedule.stage1_lr,
        momentum=float(settings["momentum"]),
        weight_decay=float(settings["weight_decay"]),
    )
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    return _Epochs(
        model=model,
        images=images,
        train=train,
        val=val,
        bands=bands,
        device=device,
        schedule=schedule,
        steps=steps,
        batch_size=batch_size,
        opt=opt,
        scaler=scaler,
        rng=rng,
        aug_gen=aug_gen,
        augment=augment_settings(settings),
        drop_last=drop_last,
        dtype=dtype,
        amp=bool(settings["amp"]),
    )


def fit(
    model: ResNetRegressor,
    images: np.ndarray,
    train: Subset,
    val: Subset,
    settings: dict,
    *,
    bands: str,
    seed: int,
    device: torch.device,
    checkpoint: str | Path | None = None,
    epoch_callback: Callable[[int, pd.DataFrame], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Train ``model`` in place on ``images[train.rows]``; returns the per-epoch
    history and the final model's predictions for ``val`` (without TTA).

    ``settings`` is the config's ``train`` mapping. With ``checkpoint``, the
    state is saved there after every epoch and, when a checkpoint of the same
    run exists, training resumes from it. ``epoch_callback(epoch, history)``
    runs after each epoch's checkpoint.
    """
    if len(train) < 2:
        raise ValueError(f"only {len(train)} training galaxies; BatchNorm needs at least 2")
    run = _prepare(model, images, train, val, settings, bands, seed, device)
    schedule = run.schedule
    history: list[dict] = []
    start = 0
    ckpt = None
    if checkpoint:
        fingerprint = ckpts.fingerprint(
            settings, bands=bands, seed=seed, arch=model.arch, train=train, val=val, images=images
        )
        ckpt = ckpts.Checkpoint(checkpoint, fingerprint)
        start, history = ckpt.restore(model, run.opt, run.scaler, run.rng, run.aug_gen, device)
        if start:
            log.info("resuming from %s after epoch %d of %d", checkpoint, start, schedule.n_epochs)
    log.info(
        "training %s on %s: %d train / %d validation images, batch %d, %d steps per epoch, %d epochs, autocast %s",
        *(
            model.arch,
            device,
            len(train),
            len(val),
            run.batch_size,
            run.steps,
            schedule.n_epochs,
            run.dtype,
        ),
    )
    val_pred = None
    for epoch in range(start, schedule.n_epochs):
        t0 = time.perf_counter()
        stage = schedule.stage(epoch)
        model.set_body_frozen(stage == 1)
        if schedule.phase_starts(epoch):
            # Each phase was its own fastai fit() with a fresh optimiser: momentum restarts.
            run.opt.state.clear()
        guard = EpochGuard(
            epoch,
            stage,
            schedule.phase(epoch),
            fp16=run.scaler.is_enabled(),
            checkpoint=ckpt and ckpt.path,
        )
        lr_start = schedule.lrs_at(epoch * run.steps)[-1]
        train_rmse = run.train_epoch(epoch, guard)
        val_pred = run.validate()
        guard.check("validation predictions", val_pred, run.opt)
        row = {
            "epoch": epoch,
            "stage": stage,
            "phase": schedule.phase(epoch),
            "train_loss": train_rmse,
            "val_loss": metrics.rmse(val_pred, val.y) if len(val) else float("nan"),
            "lr": lr_start,
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        log.info(
            "epoch %d (%s): train RMSE %.4f, validation RMSE %.4f, lr %.3g, %.1f s",
            *(epoch, row["phase"], row["train_loss"], row["val_loss"], row["lr"], row["seconds"]),
        )
        if ckpt is not None:
            ckpt.save(epoch + 1, history, model, run.opt, run.scaler, run.rng, run.aug_gen, device)
        if epoch_callback is not None:
            epoch_callback(epoch, pd.DataFrame(history, columns=HISTORY_COLUMNS))
    model.set_body_frozen(False)
    if val_pred is None:  # resumed from the checkpoint of the last epoch
        val_pred = run.validate()
    return pd.DataFrame(history, columns=HISTORY_COLUMNS), val_pred


def train_cnn(
    images_path: str | Path,
    index_path: str | Path,
    splits_path: str | Path,
    catalog_path: str | Path,
    outputs: dict[str, str | Path],
    *,
    target: str,
    bands: str,
    res: int,
    fold: int,
    settings: dict,
    seed: int,
    weights: str | Path | None = None,
    threads: int = 1,
    device: str | None = None,
    reproducibility: str = "native",
) -> dict:
    """Train the model of one (target, bands, res, fold) and write ``outputs``:
    ``model`` (model.pt), ``config`` (config.json, the resolved settings and
    what the weights' bits depend on, :func:`galcnn.cnn.runtime.provenance`),
    ``history`` (history.csv) and ``metrics`` (metrics.json: validation RMSE,
    NMAD and count, without TTA). Returns the metrics. ``reproducibility`` is the
    run's mode (:mod:`galcnn.pipeline.reproducibility`; its environment is the caller's to
    set before torch is imported)."""
    if (settings["pretrained"] == "imagenet") != (weights is not None):
        raise ValueError(
            f"train.pretrained is {settings['pretrained']!r} but weights are "
            f"{'given' if weights else 'missing'}; pass the ImageNet weights exactly when pretrained: imagenet"
        )
    torch.set_num_threads(max(1, int(threads)))
    runtime.configure(reproducibility)
    dev = data.pick_device(device)
    images, subsets = data.load_fold(
        images_path, index_path, splits_path, catalog_path, target=target, res=res, fold=fold
    )
    model_seed = job_seed(seed, target, bands, res, fold)
    torch.manual_seed(model_seed)
    model = ResNetRegressor(settings["arch"], weights=weights)
    checkpoint = Path(outputs["model"]).parent / CHECKPOINT_NAME
    t0 = time.perf_counter()
    history, pred = fit(
        model,
        images,
        subsets["train"],
        subsets["validation"],
        settings,
        bands=bands,
        seed=model_seed,
        device=dev,
        checkpoint=checkpoint,
    )
    seconds = time.perf_counter() - t0
    val = subsets["validation"]
    result = {
        "rmse": metrics.rmse(pred, val.y),
        "nmad": metrics.nmad(pred, val.y),
        "n": len(val),
        "train_seconds": round(seconds, 2),
    }
    run = {
        "target": target,
        "bands": bands,
        "res": res,
        "fold": fold,
        "seed": seed,
        "model_seed": model_seed,
        "train": settings,
        "device": str(dev),
        "autocast": str(data.amp_dtype(dev, bool(settings["amp"]))),
        "threads": int(threads),
        "n_train": len(subsets["train"]),
        "n_validation": len(val),
        "n_test": len(subsets["test"]),
        "torch": torch.__version__,
        "reproducibility": runtime.provenance(reproducibility),
    }
    with storage.atomic_path(outputs["model"]) as tmp:
        torch.save(
            {
                "arch": settings["arch"],
                "state_dict": model.cpu().state_dict(),
                **{k: run[k] for k in ("target", "bands", "res", "fold", "train")},
            },
            tmp,
        )
    storage.write_json(outputs["config"], run)
    storage.write_csv(outputs["history"], history)
    storage.write_json(outputs["metrics"], result)
    checkpoint.unlink(missing_ok=True)
    log.info(
        "validation RMSE %.4f, NMAD %.4f (n = %d) in %.0f s",
        result["rmse"],
        result["nmad"],
        result["n"],
        seconds,
    )
    return result
