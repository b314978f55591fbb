"""Wall time of `snakemake -n` for the paper's full configuration (config/config.yaml: real SDSS,
5 folds x 8 resolutions x 2 targets x 2 bands), in a temporary copy of the workflow.

Two states are timed: a fresh checkout (nothing built) and one whose catalogue already holds the
paper's 142,176 galaxies, which shows that no input function reads the catalogue while the DAG is
built (shards and query partitions are fixed counts, so the job count does not grow with it).
The last line is the fresh dry run's median wall time, ``dry_run_s=<seconds>`` (goal: <= 5 s).

    python tests/benchmarks/dag_scale.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[2]))

from conftest import copy_workflow  # noqa: E402

from galcnn import storage  # noqa: E402
from galcnn.catalog import CATALOG_COLUMNS, INTEGER_COLUMNS  # noqa: E402

N_GALAXIES = 142_176  # the paper's sample (docs/paper.md)
MAX_JOBS = 1000  # far below one job per image: a job per image would be > 142,176


def synthetic_catalog(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=n) for c in CATALOG_COLUMNS})
    for c in INTEGER_COLUMNS:
        frame[c] = np.arange(n, dtype=np.int64)
    return frame


def dry_run(workdir: Path) -> tuple[float, int]:
    """Seconds for one `snakemake -n`, and the number of jobs it plans."""
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "-n",
        "--quiet",
        "rules",
        "--cores",
        "1",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    totals = [
        line.split()[1]
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.startswith("total ")
    ]
    return elapsed, int(totals[-1])


def timed(workdir: Path, repeats: int, label: str) -> float:
    runs = [dry_run(workdir) for _ in range(repeats)]
    seconds = statistics.median(t for t, _ in runs)
    jobs = runs[0][1]
    print(
        f"{label}: {jobs} jobs, median {seconds:.2f} s over {repeats} "
        f"dry runs ({', '.join(f'{t:.2f}' for t, _ in runs)})"
    )
    if jobs > MAX_JOBS:
        raise SystemExit(
            f"{label}: {jobs} jobs, more than {MAX_JOBS}: the DAG scales with the sample"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dag_scale_") as tmp:
        workdir = copy_workflow(Path(tmp) / "wf")
        start = time.perf_counter()
        version = subprocess.run(
            [str(Path(sys.executable).with_name("snakemake")), "--version"],
            capture_output=True,
            text=True,
            check=True,
        )
        print(
            f"snakemake {version.stdout.strip()} start-up alone: {time.perf_counter() - start:.2f} s"
        )

        fresh = timed(workdir, args.repeats, "fresh checkout")

        catalog = workdir / "results" / "catalog" / "galaxies.parquet"
        catalog.parent.mkdir(parents=True)
        storage.write_parquet(catalog, synthetic_catalog(N_GALAXIES))
        timed(workdir, args.repeats, f"with a {N_GALAXIES:,}-galaxy catalogue")

    print(f"dry_run_s={fresh:.2f}")


if __name__ == "__main__":
    main()
