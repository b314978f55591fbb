"""The README's results block, written from a run's files instead of typed by hand.

:func:`results_block` renders, from ``results/tables/summary.csv`` and one model's
``config.json`` (its reproducibility record), the headline numbers of a run with the mode,
instruction set, library versions and CPU they were made on; rule ``readme_results`` writes it
to ``results/tables/readme_results.md``. :func:`splice` puts such a block between the
README's markers (``make readme-results``):

    python -m galcnn.report.readme results/tables/readme_results.md README.md
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pandas as pd

from galcnn import storage

BEGIN = "<!-- results:begin (make readme-results writes this block from the run's files) -->"
END = "<!-- results:end -->"


def cpu_model() -> str:
    """The CPU's name as the system gives it (Linux: /proc/cpuinfo), else the platform's word."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _f(x) -> str:
    return "-" if pd.isna(x) else f"{x:.4f}"


def results_block(summary: pd.DataFrame, record: dict, cpu: str) -> str:
    """Markdown: per target and bands, the test RMSE and NMAD of the fold ensemble at every
    resolution, each fold model at the top one, the baselines, the paired-bootstrap difference
    to the forest; then the run's mode, kernels and versions (``record``: a model's
    config.json ``reproducibility``) and ``cpu``."""
    lines = []
    cnn = summary[summary["method"] == "cnn"]
    for (target, bands), rows in cnn.groupby(["target", "bands"], sort=False):
        top = int(rows["resolution"].max())
        ens = rows[rows["variant"] == "ensemble"].sort_values("resolution", ascending=False)
        folds = rows[(rows["resolution"] == top) & rows["variant"].str.startswith("fold")]
        head = ens.iloc[0]
        lines.append(
            f"- {target} from {bands} ({int(head['n'])} test galaxies): fold ensemble RMSE "
            + ", ".join(f"{_f(r['rmse'])} at {int(r['resolution'])} px" for _, r in ens.iterrows())
            + f" (NMAD {_f(head['nmad'])} at {top} px); the fold models alone at {top} px "
            + ", ".join(_f(x) for x in folds["rmse"])
            + f"; ensemble − forest {head['delta_rf_rmse']:+.4f} dex "
            f"(95 % interval {head['delta_rf_lo']:+.4f} to {head['delta_rf_hi']:+.4f})."
        )
    for method, name in (("rf", "random forest"), ("mean", "mean baseline")):
        for _, r in summary[summary["method"] == method].iterrows():
            lines.append(f"- {r['target']}, {name}: RMSE {_f(r['rmse'])}, NMAD {_f(r['nmad'])}.")
    versions = record.get("versions", {})
    lines += [
        "",
        f"Made in `reproducibility: {record['mode']}` mode with {record['cpu_capability']} kernels, "
        f"{record['intra_op_threads']} thread(s) per job, torch {versions.get('torch')}, "
        f"numpy {versions.get('numpy')}, on {cpu}.",
    ]
    return "\n".join([BEGIN, *lines, END]) + "\n"


def write_block(summary_csv: str | Path, model_config: str | Path, out_path: str | Path) -> str:
    """:func:`results_block` of a run's files, written to ``out_path`` (rule readme_results)."""
    record = json.loads(Path(model_config).read_text())["reproducibility"]
    block = results_block(pd.read_csv(summary_csv), record, cpu_model())
    storage.write_text(out_path, block)
    return block


def splice(readme: str, block: str) -> str:
    """``readme`` with the text between its markers (inclusive) replaced by ``block``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(
            f"the README has no results block: put the lines {BEGIN!r} and {END!r} where it goes"
        )
    return readme[:start] + block.rstrip("\n") + readme[end + len(END) :]


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m galcnn.report.readme BLOCK_FILE README")
    block, readme = Path(argv[0]), Path(argv[1])
    storage.write_text(readme, splice(readme.read_text(), block.read_text()))


if __name__ == "__main__":
    main(sys.argv[1:])
