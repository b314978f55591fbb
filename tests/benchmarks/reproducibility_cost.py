"""The cost of ``reproducibility: portable`` on demo-sized training, and what it buys.

Each measurement is a fresh process (the kernel level is fixed when torch is imported) that
sets its mode with :func:`galcnn.pipeline.reproducibility.pin_environment` as a job's script does,
then trains a ResNet-18 on demo-sized batches (32 px, batch 32, the demo's SGD) for
``--steps`` steps after ``--warmup``, and reports the seconds per step and a sha256 of the
weights. The modes alternate for ``--rounds`` rounds, so a shared machine's load falls on both
alike; the ratio is of the medians. Then each mode is run once more under an outside cap of
the kernels at AVX2 (what a machine without AVX-512 runs): portable must give the same
weights, native differs where the CPU offers more than AVX2.
Last line: ``portable_over_native=<ratio of seconds per step>``.

    python tests/benchmarks/reproducibility_cost.py [--steps 30] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from galcnn.pipeline import reproducibility  # noqa: E402

AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def child(mode: str, steps: int, warmup: int, threads: int) -> dict:
    reproducibility.pin_environment(mode, threads)
    import hashlib
    import time

    import numpy as np
    import torch

    from galcnn.cnn import runtime
    from galcnn.cnn.model import ResNetRegressor
    from galcnn.cnn.train import rmse_loss

    torch.set_num_threads(threads)
    runtime.configure(mode)
    torch.manual_seed(0)
    model = ResNetRegressor("resnet18")
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(steps + warmup, 32, 3, 32, 32)).astype(np.float32))
    y = torch.from_numpy(rng.normal(8.9, 0.2, (steps + warmup, 32)).astype(np.float32))
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        loss = rmse_loss(model(x[i]), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = (time.perf_counter() - t0) / steps
    digest = hashlib.sha256()
    for value in model.state_dict().values():
        digest.update(value.detach().cpu().numpy().tobytes())
    return {
        "mode": mode,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "seconds_per_step": seconds,
        "weights": digest.hexdigest()[:16],
    }


def run(mode: str, args, env=None) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
    proc = subprocess.run(
        cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=reproducibility.MODES)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.warmup, args.threads)))
        return
    times = {mode: [] for mode in reproducibility.MODES}
    first = {}
    for r in range(args.rounds):
        for mode in reproducibility.MODES:
            found = run(mode, args)
            first.setdefault(mode, found)
            times[mode].append(found["seconds_per_step"])
            print(
                f"round {r}: {mode:8s} {found['cpu_capability']:7s} "
                f"{found['seconds_per_step'] * 1e3:.1f} ms/step, weights {found['weights']}",
                flush=True,
            )
    for mode in reproducibility.MODES:
        capped = run(mode, args, AVX2_ONLY)
        same = capped["weights"] == first[mode]["weights"]
        print(
            f"{mode}: {first[mode]['cpu_capability']} kernels, then capped at AVX2 from outside "
            f"({capped['cpu_capability']}): weights {'identical' if same else 'differ'}"
        )
    medians = {mode: statistics.median(t) for mode, t in times.items()}
    print(
        f"median s/step over {args.rounds} alternating rounds of {args.steps} steps "
        f"({args.threads} thread(s)): native {medians['native']:.4f}, portable {medians['portable']:.4f}"
    )
    print(f"portable_over_native={medians['portable'] / medians['native']:.3f}")


if __name__ == "__main__":
    main()
