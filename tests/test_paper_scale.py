"""The paper-scale benchmark's synthetic input is what the real stages read: its cutout store
packs, and its stand-in predictions ensemble (tests/benchmarks/paper_scale.py, at a tiny size)."""

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

import paper_scale  # noqa: E402

from galcnn import cutouts, ensemble, images, splits, storage  # noqa: E402


def _jpeg(level: int) -> bytes:
    rng = np.random.default_rng(level)
    pixels = np.clip(rng.normal(6, 4, (128, 128, 3)), 0, 255)
    pixels[48:80, 48:80] = level
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_synthetic_store_packs_and_stand_ins_ensemble(tmp_path, monkeypatch):
    monkeypatch.setattr(paper_scale, "BLANK_SHARE", 0.1)
    monkeypatch.setattr(paper_scale, "FAILED_SHARE", 0.1)
    n = 400
    rng = np.random.default_rng(0)
    catalog = pd.DataFrame(
        {
            "objID": rng.choice(10**12, n, replace=False).astype(np.int64),
            "oh_p50": rng.normal(9, 0.2, n),
        }
    )
    results = tmp_path / "results"
    root = results / "cutouts"
    pool = [_jpeg(150), _jpeg(200)]
    written = paper_scale.write_store(root, catalog, pool, n_shards=4)
    manifests = cutouts.read_manifests(sorted(root.glob("*.manifest.parquet")))
    counts = manifests["status"].value_counts()
    assert counts[cutouts.BLANK] > 0 and counts[cutouts.FAILED] > 0
    assert written == sum(
        len(pool[i % 2])
        for i in range(n)
        if manifests.set_index("objID").loc[catalog["objID"].iloc[i], "status"] != cutouts.FAILED
    )

    index = images.pack_cutouts(
        catalog,
        manifests,
        root,
        4,
        128,
        results / "images" / "128px.npy",
        results / "images" / "index.parquet",
        results / "images" / "excluded.parquet",
    )
    assert len(index) == counts[cutouts.OK]
    storage.write_parquet(results / "splits.parquet", splits.make_splits(index["objID"], 0.2, 2, 0))
    storage.write_parquet(results / "catalog" / "galaxies.parquet", catalog)
    cfg = {
        "targets": ["oh_p50"],
        "bands": ["gri"],
        "resolutions": [128, 8],
        "folds": 2,
        "resolution_study": {"targets": ["oh_p50"], "bands": ["gri"]},
    }
    assert paper_scale.write_predictions(tmp_path, cfg) == 4
    folds = {
        k: results / "models" / "oh_p50" / "gri" / "8px" / f"fold{k}" / "predictions.parquet"
        for k in (0, 1)
    }
    test, val = ensemble.ensemble_files(folds, tmp_path / "test.parquet", tmp_path / "val.parquet")
    assert len(test) + len(val) == len(index)
