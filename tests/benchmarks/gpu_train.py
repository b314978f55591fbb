"""One training epoch and one TTA prediction of the paper's model, at the paper's size, on a GPU.

Trains the paper's ResNet-34 (config/config.yaml: arch, batch size, autocast) at 128 px for one
unfrozen epoch (stage 2, the dearest kind) through the real data path of ``galcnn.cnn.train.fit``: a
memory-mapped uint8 array gathered in a background thread, uint8 to the device, augmentation
there, channels-last and autocast on CUDA, and the epoch's validation pass. The array is
synthetic (noise) with the paper's training and validation sizes (142,176 galaxies, 20 % test,
the folds' 64 / 16 %). Then it predicts the paper's 20,466 test galaxies with test-time
augmentation through ``galcnn.cnn.predict.predict_rows``. Prints training images/s, seconds per
epoch, TTA ms per image and peak GPU memory, and an estimate per fold model of the paper's
10-epoch schedule beside the paper's figure (10 epochs in 25–30 min on one P100, paper §3.2).

Without CUDA it runs a tiny version of the same code (16 px, about a hundred images) and says so:
its numbers say nothing about a GPU. On a SLURM cluster:

    srun --gres=gpu:1 --cpus-per-task=8 --mem=32G --time=30 python tests/benchmarks/gpu_train.py

The last line is ``gpu_train device=<d> images_per_s=<x> s_per_epoch=<x> tta_ms_per_image=<x> peak_gpu_mb=<x>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from galcnn.cnn import data  # noqa: E402
from galcnn.cnn.data import Subset  # noqa: E402
from galcnn.cnn.model import ResNetRegressor  # noqa: E402
from galcnn.cnn.predict import predict_rows  # noqa: E402
from galcnn.cnn.train import fit  # noqa: E402
from galcnn.images import BLOCK  # noqa: E402

N_GALAXIES, N_TEST = 142_176, 20_466  # the paper's sample and test set (paper §3.1, §3.2)
PAPER_EPOCHS = 10  # 2 frozen + 1 + (1 + 2 + 4) SGDR epochs
TINY = {"res": 16, "n_train": 64, "n_val": 16, "n_test": 16, "batch": 16, "predict_batch": 16}


def paper_sizes(cfg: dict) -> dict:
    """The paper run's sizes: one fold's training and validation galaxies, the published test set."""
    rest = N_GALAXIES - round(N_GALAXIES * cfg["test_fraction"])
    n_val = rest // cfg["folds"]
    return {
        "res": max(cfg["resolutions"]),
        "n_train": rest - n_val,
        "n_val": n_val,
        "n_test": N_TEST,
        "batch": cfg["train"]["batch_size"],
        "predict_batch": cfg["predict"]["batch_size"],
    }


def synthetic_array(path: Path, n: int, res: int, seed: int = 0) -> np.ndarray:
    """An N × res × res × 3 uint8 noise array written block by block, opened memory-mapped as training opens it."""
    rng = np.random.default_rng(seed)
    np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, res, res, 3)).flush()
    for start in range(0, n, BLOCK):
        out = np.load(path, mmap_mode="r+")
        out[start : start + BLOCK] = rng.integers(
            0, 256, (min(BLOCK, n - start), res, res, 3), dtype=np.uint8
        )
        out.flush()
        del out
    return np.load(path, mmap_mode="r")


def subset(rows: np.ndarray, rng: np.random.Generator) -> Subset:
    return Subset(
        objid=rows.astype(np.int64), rows=rows.astype(np.int64), y=rng.normal(9.0, 0.2, len(rows))
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default=None, help="cuda, mps or cpu (default: the best available)"
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="CPU threads (torch.set_num_threads)"
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="folder for the synthetic array (7 GB at full size)",
    )
    args = parser.parse_args()

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    torch.set_num_threads(args.threads)
    device = data.pick_device(args.device)
    sizes = paper_sizes(cfg) if device.type == "cuda" else TINY
    if device.type != "cuda":
        print(
            f"no CUDA device ({device}): a tiny version of the same code ({sizes}); its numbers say nothing about a GPU"
        )
    settings = dict(cfg["train"], pretrained=False, batch_size=sizes["batch"])
    settings["stage1"] = dict(settings["stage1"], epochs=0)
    settings["stage2"] = dict(settings["stage2"], epochs=1, cycles=0)
    rng = np.random.default_rng(0)
    n_rows = sizes["n_train"] + sizes["n_val"] + sizes["n_test"]
    print(
        f"device={device} arch={settings['arch']} res={sizes['res']} "
        f"batch={sizes['batch']} autocast={data.amp_dtype(device, settings['amp'])} "
        f"train={sizes['n_train']:,} validation={sizes['n_val']:,} test={sizes['n_test']:,}",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="gpu_train_", dir=args.scratch) as tmp:
        start = time.perf_counter()
        images = synthetic_array(Path(tmp) / f"{sizes['res']}px.npy", n_rows, sizes["res"])
        print(
            f"synthetic {images.shape} array ({images.nbytes / 1e9:.2f} "
            f"GB) written in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        rows = rng.permutation(n_rows)
        train = subset(rows[: sizes["n_train"]], rng)
        val = subset(rows[sizes["n_train"] : sizes["n_train"] + sizes["n_val"]], rng)
        test = subset(rows[sizes["n_train"] + sizes["n_val"] :], rng)

        torch.manual_seed(0)
        model = ResNetRegressor(settings["arch"])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        history, _ = fit(model, images, train, val, settings, bands="gri", seed=0, device=device)
        epoch_s = float(history["seconds"].iloc[0])

        # The epoch includes its validation pass; time that pass alone to get the training rate.
        sync(device)
        t0 = time.perf_counter()
        predict_rows(
            model,
            images,
            val.rows,
            "gri",
            4 * sizes["batch"],
            device,
            tta=False,
            amp=bool(settings["amp"]),
        )
        sync(device)
        val_s = time.perf_counter() - t0
        train_rate = len(train) / max(epoch_s - val_s, 1e-9)

        t0 = time.perf_counter()
        predict_rows(
            model,
            images,
            test.rows,
            "gri",
            sizes["predict_batch"],
            device,
            tta=True,
            amp=bool(settings["amp"]),
        )
        sync(device)
        tta_ms = (time.perf_counter() - t0) / len(test) * 1e3
        peak_mb = (
            torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == "cuda"
            else float("nan")
        )
        del images

    print(
        f"one unfrozen epoch: {epoch_s:.1f} s ({val_s:.1f} s of it "
        f"the validation pass); training {train_rate:.0f} images/s"
    )
    print(
        f"TTA (8 transforms) on {len(test):,} test images: {tta_ms:.2f} ms/image, {tta_ms * len(test) / 1e3:.0f} s"
    )
    print(f"peak GPU memory: {peak_mb:.0f} MB")
    model_min = (PAPER_EPOCHS * epoch_s + tta_ms * (len(test) + len(val)) / 1e3) / 60
    print(
        f"per fold model, {PAPER_EPOCHS} epochs + TTA predictions: about {model_min:.1f} min "
        f"(an upper bound: the 2 frozen epochs cost less); paper: 10 epochs in 25-30 min on one P100"
    )
    print(
        f"gpu_train device={device.type} images_per_s={train_rate:.1f} s_per_epoch={epoch_s:.2f} "
        f"tta_ms_per_image={tta_ms:.3f} peak_gpu_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
