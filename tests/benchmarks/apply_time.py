"""Wall time of `snakemake apply` on a catalogue of new mock galaxies after a finished run, and
the test-set coverage of the calibrated uncertainties.

Run it in the workflow folder of a finished run (e.g. after `make demo`); it writes
`benchmarks/apply_catalog.csv` (N random positions in the mock's footprint, a z column) and
`benchmarks/apply.yaml`, runs `snakemake apply` once and prints the job counts, the time and,
from results/tables/uncertainty.csv, the 1σ and 2σ test coverage before and after
calibration of the configurations apply used. The last line is ``apply_s=<seconds>``.

    python tests/benchmarks/apply_time.py [--configfile config/demo.yaml] [--n 300] [--cores 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parents[2]))

from conftest import dry_run_jobs  # noqa: E402 (after the path set-up above)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/demo.yaml")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    args = parser.parse_args()
    work = args.workdir.resolve()
    rng = np.random.default_rng(2026)
    catalog = pd.DataFrame(
        {
            "ra": rng.uniform(120, 250, args.n),
            "dec": rng.uniform(-5, 65, args.n),
            "z": rng.uniform(0.02, 0.25, args.n),
        }
    )
    (work / "benchmarks").mkdir(exist_ok=True)
    catalog.to_csv(work / "benchmarks" / "apply_catalog.csv", index=False)
    name = f"benchmark{args.n}"
    (work / "benchmarks" / "apply.yaml").write_text(
        f"apply: {{catalog: benchmarks/apply_catalog.csv, name: {name}}}\n"
    )
    config = ("--configfile", args.configfile, "benchmarks/apply.yaml")
    # A fresh catalogue each time: the previous benchmark's apply outputs (cutouts too) go.
    shutil.rmtree(work / "results" / "apply" / name, ignore_errors=True)
    for suffix in (".parquet", ".csv"):
        (work / "results" / "apply" / f"{name}{suffix}").unlink(missing_ok=True)
    print("jobs:", dry_run_jobs(work, "--cores", "1", "apply", *config))
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "--cores",
        str(args.cores),
        "apply",
        *config,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    table = pd.read_parquet(work / "results" / "apply" / f"{name}.parquet")
    print(
        f"{len(table)} galaxies, status {table['status'].value_counts().to_dict()}, "
        f"flagged {(table['flags'] != '').sum()}"
    )
    unc = pd.read_csv(work / "results" / "tables" / "uncertainty.csv")
    cols = [
        "target",
        "bands",
        "res",
        "factor",
        "test_coverage_1sigma_raw",
        "test_coverage_1sigma",
        "test_coverage_2sigma_raw",
        "test_coverage_2sigma",
    ]
    print(unc[cols].to_string(index=False))
    print(f"apply_s={seconds:.1f}")


if __name__ == "__main__":
    main()
