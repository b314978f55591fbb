"""How much the mock cutouts look like real SkyServer ones: the statistics of galcnn.realism on mock
cutouts of the demo's galaxies against real DR14 cutouts of the paper's data set.

    .venv/bin/python tests/benchmarks/mock_realism.py [--n 200] [--framing petrosian|fixed] [--real DIR]

The real reference is the 40 evenly chosen cutouts of tests/data/real_cutouts, or every JPEG in
``--real`` (e.g. the authors' 500). The mock galaxies are framed like the real ones (``petrosian``:
2 petroR90_r / 0.396 / 128 arcsec per pixel) or at the fixed 0.296"/px of the paper's text, where the
isophotal radius is not comparable. Prints a table (median [10th, 90th percentile]) and, last,
``mock_realism: N/10 within the real 10-90% range``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mock_cutouts  # noqa: E402

from galcnn import realism  # noqa: E402

parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument("--n", type=int, default=200, help="mock cutouts to render (default 200)")
parser.add_argument("--framing", choices=("petrosian", "fixed"), default="petrosian")
parser.add_argument(
    "--real", type=Path, help="a folder of real cutouts (default: the test fixture)"
)
args = parser.parse_args()

real_files = sorted(args.real.glob("*.jpg")) if args.real else mock_cutouts.real_cutouts("even")
real = realism.measure(real_files)

catalog, truth = mock_cutouts.demo_survey()
if args.framing == "petrosian":
    truth = mock_cutouts.with_petrosian_scale(catalog, truth)
rows = truth.iloc[np.linspace(0, len(truth) - 1, min(args.n, len(truth))).round().astype(int)]
start = time.perf_counter()
mock = realism.measure(mock_cutouts.decoded(mock_cutouts.render(row)) for _, row in rows.iterrows())
elapsed = time.perf_counter() - start

table = realism.compare(real, mock)
print(
    f"{len(real)} real cutouts ({args.real or 'tests/data/real_cutouts, even selection'}), "
    f"{len(mock)} mock cutouts of the demo's galaxies ({args.framing} framing, "
    f"{elapsed / len(mock):.2f} s each)"
)
print(realism.markdown(table))
print(f"mock_realism: {int(table['within'].sum())}/{len(table)} within the real 10-90% range")
