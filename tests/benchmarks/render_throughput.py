"""Mock cutout rendering speed on one core: images per second (last line)."""

import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from galcnn.mock import catalog as mc  # noqa: E402
from galcnn.mock import images as mi  # noqa: E402

N_IMAGES = 60
config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
_, truth = mc.simulate_catalog(3000, 2019, config["query"]["cuts"])
rows = truth.head(N_IMAGES)
size, scale = config["cutouts"]["size"], config["cutouts"]["scale"]
mi.render_cutout(rows.iloc[0], size, scale, mi.galaxy_rng(0, 0))  # GalSim's first-use setup
start = time.perf_counter()
for _, row in rows.iterrows():
    mi.encode_jpeg(mi.render_cutout(row, size, scale, mi.galaxy_rng(2019, row["objID"])))
elapsed = time.perf_counter() - start
print(f"rendered {len(rows)} {size}x{size} cutouts (render + JPEG) in {elapsed:.1f} s")
print(f"{len(rows) / elapsed:.1f} images/s")
