"""Sim-to-real: a metallicity CNN trained only on the mock survey, scored on real SDSS cutouts.

Trains the demo's oh_p50 model (gri, 32 px, its folds) on the mock survey through the workflow
(`snakemake ... results/export/oh_p50/gri/32px/model.json`, in ``--workdir``; skipped when that
exported model exists, or give ``--model`` for any exported folder), then predicts every real
cutout of ``--cutouts`` whose objID has a true value in ``--catalog``, through
``galcnn.load(...).predict``: the 128 px JPEGs are area-averaged to the model's resolution as the
workflow's ``images_downsample`` does. Default real set: the 50 real cutouts of the test fixture
(``tests/data/real_cutouts/``, oh_p50 from MPA-JHU); for a figure worth quoting give the authors'
500 (jwuphysics/convnet-demo: its images and a CSV of objID and oh_p50). Any folder of
``<objID>.jpg`` with a CSV or parquet of objID and true values serves, e.g. a held-out set.

Prints RMSE, NMAD, bias (mean of predicted − true), Pearson correlation, the predicted and true
standard deviations, and the RMSE of the mean baseline that predicts the real set's own mean (its
true standard deviation, so it knows something no mock-trained model can); the last line is
``sim_to_real_rmse=<x> mean_rmse=<x>``.

    python tests/benchmarks/sim_to_real.py [--workdir .] [--configfile config/demo.yaml ...]
        [--cores 2] [--model results/export/oh_p50/gri/32px]
        [--cutouts tests/data/real_cutouts] [--catalog tests/data/real_cutouts/provenance.csv]
        [--truth-column oh_p50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import galcnn  # noqa: E402
from galcnn import cutouts, metrics  # noqa: E402
from galcnn.paths import EXPORT_MANIFEST  # noqa: E402

REAL = REPO / "tests" / "data" / "real_cutouts"
MODEL = f"results/export/oh_p50/gri/32px/{EXPORT_MANIFEST}"
CUTOUT_SIZE = 128  # SkyServer ImgCutout JPEGs of the paper (docs/paper.md)


def train(workdir: Path, configfiles: list[str], cores: int) -> Path:
    """The exported model of the demo's metallicity configuration, made by the workflow if missing."""
    manifest = workdir / MODEL
    if not manifest.exists():
        snakemake = Path(sys.executable).with_name("snakemake")
        cmd = [str(snakemake), "--cores", str(cores), "--configfile", *configfiles, MODEL]
        print("training:", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=workdir, check=True)
    return manifest.parent


def read_truth(path: Path, column: str) -> pd.DataFrame:
    """objID and the true value from a CSV or parquet catalogue, -9999 and NaN rows dropped."""
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"objID", column} - set(table.columns)
    if missing:
        raise SystemExit(
            f"{path} lacks the column(s) {sorted(missing)}; it needs objID and {column} "
            "(choose the truth column with --truth-column)"
        )
    table = table[["objID", column]].rename(columns={column: "true"})
    return table[np.isfinite(table["true"]) & (table["true"] != -9999)].reset_index(drop=True)


def read_cutouts(folder: Path, truth: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The catalogue rows with a usable ``<objID>.jpg`` in ``folder`` and their RGB pixels."""
    rows, pixels, skipped = [], [], {}
    for i, objid in enumerate(truth["objID"]):
        state, reason, image = cutouts.read_file(folder / f"{int(objid)}.jpg", CUTOUT_SIZE)
        if state == cutouts.OK:
            rows.append(i)
            pixels.append(image)
        else:
            skipped[reason] = skipped.get(reason, 0) + 1
    if skipped:
        print(f"skipped {sum(skipped.values())} catalogue rows: {skipped}")
    if not rows:
        raise SystemExit(f"no readable {CUTOUT_SIZE} px <objID>.jpg of the catalogue in {folder}")
    return truth.iloc[rows].reset_index(drop=True), np.stack(pixels)


def scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {
        "n": len(true),
        "rmse": metrics.rmse(pred, true),
        "nmad": metrics.nmad(pred, true),
        "bias": float(np.mean(pred - true)),
        "correlation": float(np.corrcoef(pred, true)[0, 1]),
        "pred_std": float(np.std(pred)),
        "true_std": float(np.std(true)),
        "pred_mean": float(np.mean(pred)),
        "true_mean": float(np.mean(true)),
        "mean_rmse": metrics.rmse(np.full(len(true), np.mean(true)), true),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    parser.add_argument("--configfile", nargs="+", default=["config/demo.yaml"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--model", type=Path, help="an exported model folder (skips training)")
    parser.add_argument("--cutouts", type=Path, default=REAL)
    parser.add_argument("--catalog", type=Path, default=REAL / "provenance.csv")
    parser.add_argument("--truth-column", default="oh_p50")
    args = parser.parse_args()
    for path, flag in ((args.cutouts, "--cutouts"), (args.catalog, "--catalog")):
        if not path.exists():
            raise SystemExit(f"{path} does not exist; give the real set with {flag}")

    folder = args.model or train(args.workdir.resolve(), args.configfile, args.cores)
    model = galcnn.load(folder)
    truth, pixels = read_cutouts(args.cutouts, read_truth(args.catalog, args.truth_column))
    pred = model.predict(pixels)["pred"].to_numpy()
    s = scores(pred, truth["true"].to_numpy())
    print(
        f"model {folder} ({model.meta['target']}, {model.meta['bands']}, {model.meta['resolution']} px)"
    )
    print(
        f"real set: {s['n']} cutouts of {args.cutouts}, truth {args.truth_column} of {args.catalog}"
    )
    print(
        f"RMSE {s['rmse']:.4f}  NMAD {s['nmad']:.4f}  bias {s['bias']:+.4f}  correlation {s['correlation']:.3f}"
    )
    print(f"mean predicted {s['pred_mean']:.3f} (true {s['true_mean']:.3f})")
    print(f"std predicted {s['pred_std']:.4f} (true {s['true_std']:.4f})")
    print(
        f"mean baseline (the real set's own mean) RMSE {s['mean_rmse']:.4f}; ratio {s['rmse'] / s['mean_rmse']:.3f}"
    )
    print(f"sim_to_real_rmse={s['rmse']:.4f} mean_rmse={s['mean_rmse']:.4f}")


if __name__ == "__main__":
    main()
