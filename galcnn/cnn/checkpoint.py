"""Training checkpoints: the whole state after every epoch, resumed only into the same run.

A checkpoint holds the weights, optimiser, loss scaler, random generators and history,
and a fingerprint of what was trained on: the settings, the galaxies (objIDs, rows,
targets) and a digest of the images. It is resumed only when the fingerprint matches;
one that cannot be read (truncated by a crash, garbage), has another layout or
another fingerprint is moved aside to ``checkpoint.pt.bad`` (kept for a look, never
read again) and training starts over. Without that, a bad checkpoint, which is
not a Snakemake output and so is never removed for a rerun, would fail every retry
the same way, or be resumed on images rebuilt since.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from galcnn import storage

log = logging.getLogger(__name__)

BAD_SUFFIX = ".bad"
#: Images whose pixels go into the fingerprint, spread evenly over the array.
IMAGE_SAMPLE = 64
KEYS = frozenset({"fingerprint", "epoch", "model", "optimizer", "scaler", "history", "rng"})


def images_digest(images: np.ndarray) -> str:
    """sha256 of the array's shape and type and of :data:`IMAGE_SAMPLE` images spread over it.

    A rebuild with another ``cutouts.scale``, ``opt`` or data release changes every
    image, so a sample notices it, at the cost of reading 64 images from the memory
    map; hashing every image would read the whole array (tens of GB at 128 px) at
    each start.
    """
    digest = hashlib.sha256(f"{images.shape}{images.dtype}".encode())
    for row in (
        np.unique(np.linspace(0, len(images) - 1, IMAGE_SAMPLE).astype(np.int64))
        if len(images)
        else []
    ):
        digest.update(np.ascontiguousarray(images[row]).tobytes())
    return digest.hexdigest()


def _crc(*arrays: np.ndarray) -> int:
    crc = 0
    for array in arrays:
        crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
    return crc


def fingerprint(
    settings: dict, *, bands: str, seed: int, arch: str, train, val, images: np.ndarray
) -> dict:
    """What makes two runs the same: settings, and which galaxies and pixels, not only how many."""
    return {
        "settings": settings,
        "bands": bands,
        "seed": seed,
        "arch": arch,
        "train": _crc(train.objid, train.rows, train.y),
        "validation": _crc(val.objid, val.rows, val.y),
        "images": images_digest(images),
    }


class Checkpoint:
    """The checkpoint file of one run, identified by its ``fingerprint``."""

    def __init__(self, path: str | Path, fingerprint: dict):
        self.path, self.fingerprint = Path(path), fingerprint

    def restore(
        self,
        model,
        opt,
        scaler,
        rng: np.random.Generator,
        aug_gen: torch.Generator,
        device: torch.device,
    ) -> tuple[int, list[dict]]:
        """Load the state into the given objects; returns (epochs done, history), (0, []) to start over."""
        if not self.path.exists():
            return 0, []
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            problem = self._problem(state, model)
        except Exception as exc:  # noqa: BLE001 - a damaged file raises anything from pickle, zipfile or torch
            problem = f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
        if problem:
            self.set_aside(problem)
            return 0, []
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng"]["torch"])
            if device.type == "cuda" and state["rng"]["cuda"]:
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
            rng.bit_generator.state = state["rng"]["numpy"]
            aug_gen.set_state(state["rng"]["augment"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            # The model may be half loaded now: set the file aside and let the retry start over.
            self.set_aside(f"could not be loaded ({exc})")
            raise RuntimeError(
                f"checkpoint {self.path} could not be loaded ({exc}); it was moved aside, rerun to start over"
            ) from exc
        return int(state["epoch"]), list(state["history"])

    def save(
        self,
        epoch: int,
        history: list[dict],
        model,
        opt,
        scaler,
        rng: np.random.Generator,
        aug_gen: torch.Generator,
        device: torch.device,
    ) -> None:
        """Write the state after ``epoch`` epochs, atomically and flushed to disk."""
        state = {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict(),
            "history": history,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                "numpy": rng.bit_generator.state,
                "augment": aug_gen.get_state(),
            },
        }
        with storage.atomic_path(self.path, durable=True) as tmp:
            torch.save(state, tmp)

    def set_aside(self, problem: str) -> None:
        bad = self.path.with_name(self.path.name + BAD_SUFFIX)
        os.replace(self.path, bad)
        log.warning("checkpoint %s %s; moved to %s, training starts over", self.path, problem, bad)

    def _problem(self, state, model) -> str | None:
        """Why ``state`` cannot be resumed, or None."""
        if not isinstance(state, dict) or not KEYS <= set(state):
            return "has another layout"
        if state["fingerprint"] != self.fingerprint:
            return "is from other settings, galaxies or images"
        epoch, history = state["epoch"], state["history"]
        # Checked here, not when resuming: a bad count would otherwise fail every retry alike.
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            return f"records {epoch!r} epochs done, not a count"
        if not isinstance(history, list) or len(history) != epoch:
            return f"has a history of {type(history).__name__} that does not list {epoch} epochs"
        ours = model.state_dict()
        theirs = state["model"]
        if set(theirs) != set(ours) or any(theirs[k].shape != ours[k].shape for k in ours):
            return "holds weights of another model"
        return None
