"""The blank-cutout rule on rendered demo galaxies: false blanks (last line), blank cases caught,
the margins of the centre test, and the mock sky's statistics.

    .venv/bin/python tests/benchmarks/blank_rule.py [N_GALAXIES]
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mock_cutouts  # noqa: E402
from mock_cutouts import REAL_SKY, decoded  # noqa: E402

from galcnn import cutouts  # noqa: E402
from galcnn.mock import images as mi

N_GALAXIES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
N_EXTREME = 50  # the faintest and the smallest, always included
N_CASES = 50  # galaxies made into each kind of blank cutout

rows = mock_cutouts.sample(mock_cutouts.demo_population(), N_GALAXIES, N_EXTREME)
false_blanks, margins, zero, stats, rgbs = [], [], [], [], []
for _, row in rows.iterrows():
    rgb = mock_cutouts.render(row)
    pixels = decoded(rgb)
    status, reason = cutouts.check_jpeg(mi.encode_jpeg(rgb), mock_cutouts.SIZE)
    if status != cutouts.OK:
        false_blanks.append((int(row["objID"]), reason))
    centre, border = cutouts.centre_and_border(pixels)
    margins.append(centre - border)
    zero.append(cutouts.zero_valued_share(pixels))
    stats.append(cutouts.sky_statistics(pixels))
    rgbs.append(rgb)

stats = pd.DataFrame(stats)
print("mock sky, median [25th, 75th percentile] over cutouts, and the real DR14 range:")
for name, (lo, hi) in REAL_SKY.items():
    q = stats[name].quantile([0.5, 0.25, 0.75]).to_numpy()
    print(f"  {name:12s} {q[0]:6.3f} [{q[1]:.3f}, {q[2]:.3f}]   real {lo} – {hi}")

print(f"zero-valued share on galaxies ≤ {max(zero):.2%} (blank at ≥ {cutouts.ZERO_AREA:.0%})")
sky = []
for _, row in rows.head(N_CASES * 4).iterrows():
    rgb = mock_cutouts.render(mock_cutouts.pure_sky(row))
    centre, border = cutouts.centre_and_border(decoded(rgb))
    sky.append((centre - border, cutouts.check_jpeg(mi.encode_jpeg(rgb), mock_cutouts.SIZE)[0]))
print(
    f"centre minus border, grey levels: galaxies ≥ {min(margins):.1f}, pure sky ≤ {max(s for s, _ in sky):.1f} "
    f"(blank at ≤ {cutouts.CENTRE_MARGIN})"
)
print(f"pure sky: {sum(s == cutouts.BLANK for _, s in sky)} of {len(sky)} blank")
step = max(1, len(rgbs) // N_CASES)
for region in mock_cutouts.ZEROED_REGIONS:
    verdicts = [
        cutouts.check_jpeg(mi.encode_jpeg(mock_cutouts.zeroed(rgb, region)), mock_cutouts.SIZE)[0]
        for rgb in rgbs[::step]
    ]
    print(f"{region} zeroed: {verdicts.count(cutouts.BLANK)} of {len(verdicts)} blank")
for objid, reason in false_blanks:
    print(f"  false blank {objid}: {reason}")
print(f"false blanks: {len(false_blanks)} of {len(rows)} galaxies")
