"""Training throughput of the real data path against the model alone.

Data path: a memory-mapped uint8 .npy file → background gathering of shuffled
batches → device → float/normalise/augment → train step (galcnn.cnn.train's loop).
Model alone: the same train step on one batch already on the device.
The ratio (data path / model alone) says how much the data path slows
training; the goal is ≥ 0.95. Last line: ``ratio=<value>``.

    python tests/benchmarks/train_throughput.py [--arch resnet18] [--res 32] [--batch 128] [--steps 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from galcnn.cnn import data
from galcnn.cnn.augment import augment_batch  # noqa: E402
from galcnn.cnn.model import ResNetRegressor  # noqa: E402
from galcnn.cnn.train import rmse_loss  # noqa: E402


def train_step(model, opt, x, y, dtype):
    with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        pred = model(x)
    loss = rmse_loss(pred, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--res", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--n-images", type=int, default=4096, help="rows of the memory-mapped array"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = data.pick_device(args.device)
    dtype = data.amp_dtype(device, True)
    fmt = data.memory_format(device)
    model = ResNetRegressor(args.arch).to(device, memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    rng = np.random.default_rng(0)
    n_steps = args.warmup + args.steps

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "images.npy"
        arr = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.uint8, shape=(args.n_images, args.res, args.res, 3)
        )
        arr[:] = rng.integers(0, 256, arr.shape, dtype=np.uint8)
        arr.flush()
        del arr
        images = np.load(path, mmap_mode="r")
        y = rng.normal(9.0, 0.2, args.n_images)

        x0 = torch.from_numpy(np.array(images[: args.batch])).to(device)
        y0 = torch.from_numpy(y[: args.batch].astype(np.float32)).to(device)
        rows = np.resize(rng.permutation(args.n_images), n_steps * args.batch)
        batches = data.iterate_batches(images, rows, y[rows], args.batch, device, drop_last=True)
        seconds = {"alone": 0.0, "path": 0.0}
        # Alternate the two in rounds of a few steps, so a machine shared with other
        # jobs slows both alike instead of whichever ran during the busy spell.
        for i in range(n_steps):
            for mode in ("alone", "path"):
                sync(device)
                t0 = time.perf_counter()
                if mode == "alone":
                    # Model alone: one batch resident on the device, same conversion and augmentation.
                    xb, yb = x0, y0
                else:
                    # Real data path: shuffled rows gathered from the memmap in a background thread.
                    xb, yb, _ = next(batches)
                x = augment_batch(data.to_model_input(xb, "gri"), 1.1).contiguous(memory_format=fmt)
                train_step(model, opt, x, yb, dtype)
                sync(device)
                if i >= args.warmup:
                    seconds[mode] += time.perf_counter() - t0
        batches.close()
        alone = args.steps * args.batch / seconds["alone"]
        path_rate = args.steps * args.batch / seconds["path"]

    print(
        f"device={device} arch={args.arch} res={args.res} batch={args.batch} steps={args.steps} threads={args.threads}"
    )
    print(f"model alone: {alone:.1f} images/s")
    print(f"data path:   {path_rate:.1f} images/s")
    print(f"ratio={path_rate / alone:.3f}")


if __name__ == "__main__":
    main()
