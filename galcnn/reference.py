"""The published record: Wu & Boada's own test-set predictions on real SDSS.

The authors published their CNN's predictions for the 20,466 test galaxies at
128, 64, 32 and 16 px (repository jwuphysics/galaxy-cnns, ``catalogs/post-submission``),
one CSV per resolution with header ``objID,<target>,prediction``. This module
fetches them pinned by commit and sha256, checks them, and stores each as
``objID, true, pred``. Being offline is not an error: the stage then records why
the reference is unavailable and every consumer says so. Bad data is an error.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from galcnn import storage
from galcnn.metrics import nmad, rmse

log = logging.getLogger(__name__)

COLUMNS = ("objID", "true", "pred")
#: How to get the stage going again once the files are there (said in every "unavailable" message).
RETRY_HINT = "then run `snakemake --forcerun reference_fetch`"


@dataclass(frozen=True)
class PublishedFile:
    """One pinned file of the published record (config ``reference.files``)."""

    resolution: int
    name: str
    sha256: str


@dataclass
class Reference:
    """The stage's result as its consumers see it."""

    available: bool
    source: str
    target: str
    bands: str
    reason: str = ""
    frames: dict[int, pd.DataFrame] = field(default_factory=dict)

    def describe(self) -> str:
        if self.available:
            resolutions = ", ".join(f"{r} px" for r in sorted(self.frames, reverse=True))
            return f"published predictions of {self.source} at {resolutions}"
        return f"published predictions of {self.source} unavailable: {self.reason}"


#: Whose record this is, whatever mirror ``reference.url`` points at.
REPOSITORY = "jwuphysics/galaxy-cnns"


def source_label(commit: str) -> str:
    """``jwuphysics/galaxy-cnns@abcdef1`` for captions and tables."""
    return f"{REPOSITORY}@{commit[:7]}"


def check_body(path: Path, name: str, expected_sha256: str) -> None:
    """Reject a body (on disk at ``path``) that is not the pinned file ``name``, saying what it looks like instead."""
    with open(path, "rb") as fh:
        head = fh.read(512)
        fh.seek(0)
        size, got = storage.sha256_stream(fh)
        fh.seek(max(0, size - 1))
        ends_mid_line = fh.read(1) != b"\n"
    if not head:
        raise ValueError(f"{name} is empty")
    if head.lstrip().lower().startswith((b"<!doctype", b"<html")) or b"<html" in head.lower():
        raise ValueError(
            f"{name} is an HTML page ({size} bytes), not the CSV of published predictions"
        )
    if got != expected_sha256:
        cut = "; it ends mid-line, so it looks truncated" if ends_mid_line else ""
        raise ValueError(
            f"{name}: sha256 {got} does not match the pinned {expected_sha256} ({size} bytes{cut}); "
            "it is not the published file of this commit"
        )


def parse_predictions(path: str | Path, target: str) -> pd.DataFrame:
    """``objID, true, pred`` from one published CSV, or a ``ValueError`` naming the file and the problem."""
    name = Path(path).name
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    wanted = ["objID", target, "prediction"]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {missing}; its header is {list(raw.columns)}, expected {wanted}"
        )
    if raw.empty:
        raise ValueError(f"{name} has a header but no rows")
    out = {}
    for col, new, kind in (
        ("objID", "objID", "integer"),
        (target, "true", "number"),
        ("prediction", "pred", "number"),
    ):
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{name}: column {col!r} has {int(bad.sum())} value(s) that are not a finite {kind}, "
                f"first {raw[col].iloc[row]!r} on data row {row + 1}"
            )
        out[new] = values
    frame = pd.DataFrame(out)
    if not (frame["objID"] == frame["objID"].round()).all():
        raise ValueError(f"{name}: column 'objID' holds non-integer values")
    frame = frame.astype({"objID": "int64", "true": "float64", "pred": "float64"})
    dup = frame["objID"].duplicated(keep=False)
    if dup.any():
        ids = frame.loc[dup, "objID"].unique()
        raise ValueError(
            f"{name}: {len(ids)} objID(s) appear more than once, e.g. {ids[:3].tolist()}"
        )
    return frame


def check_same_galaxies(frames: dict[str, pd.DataFrame]) -> None:
    """The published files cover the same test galaxies; name the files that do not."""
    (first, ref), *rest = frames.items()
    ids = set(ref["objID"])
    for name, frame in rest:
        other = set(frame["objID"])
        if other != ids:
            raise ValueError(
                f"{name} and {first} hold different galaxies: {len(other - ids)} objIDs only in {name}, "
                f"{len(ids - other)} only in {first}; the published files share one test set"
            )


def fetch_reference(
    files: list[PublishedFile],
    outputs: dict[int, str],
    status_path: str,
    *,
    base_url: str,
    commit: str,
    folder: str,
    local_dir: str | None,
    target: str,
    bands: str,
    retries: int,
    timeout: float,
) -> Reference:
    """Get, check and store every published file; or record why they are unavailable.

    A file already in ``local_dir`` is used as it is (put there by hand, or by an
    earlier download, which this caches there); otherwise it is downloaded from
    ``{base_url}/{commit}/{folder}/{name}``. Nothing is written unless every file
    passes every check.
    """
    # Imported here: the analysis rules read references without the download stack in their env.
    from galcnn.sdss import web

    source = source_label(commit)
    with tempfile.TemporaryDirectory(prefix="reference-") as scratch:
        # Downloads are cached in local_dir when one is configured, else kept only for this job.
        folder_on_disk = Path(local_dir) if local_dir else Path(scratch)
        paths = {}
        for f in files:
            path = folder_on_disk / f.name
            if path.exists():
                try:
                    check_body(path, f.name, f.sha256)
                except ValueError as exc:
                    raise ValueError(
                        f"{exc}. It was found in reference.local_dir ({local_dir}): delete or replace it"
                    ) from None
                paths[f.resolution] = path
                continue
            url = f"{base_url.rstrip('/')}/{commit}/{folder.strip('/')}/{f.name}"
            try:
                web.download_file(
                    url,
                    path,
                    retries=retries,
                    timeout=timeout,
                    check=lambda p, f=f: check_body(p, f.name, f.sha256),
                )
            except web.Unreachable as exc:
                where = f"{local_dir}/" if local_dir else "a folder named by reference.local_dir"
                reason = f"{exc}. Offline? Put the files {[g.name for g in files]} in {where} by hand, {RETRY_HINT}"
                log.warning("published reference unavailable: %s", reason)
                _write(
                    outputs,
                    status_path,
                    {
                        "available": False,
                        "source": source,
                        "target": target,
                        "bands": bands,
                        "reason": reason,
                    },
                    {},
                )
                return Reference(False, source, target, bands, reason)
            log.info("downloaded %s (sha256 verified)", url)
            paths[f.resolution] = path
        frames = {res: parse_predictions(path, target) for res, path in paths.items()}
        check_same_galaxies({p.name: frames[res] for res, p in paths.items()})
    record = {
        "available": True,
        "source": source,
        "commit": commit,
        "target": target,
        "bands": bands,
        "files": {
            str(f.resolution): {
                "name": f.name,
                "sha256": f.sha256,
                "rows": len(frames[f.resolution]),
            }
            for f in files
        },
    }
    _write(outputs, status_path, record, frames)
    for f in files:
        log.info("%4d px: %s, %d galaxies", f.resolution, f.name, len(frames[f.resolution]))
    return Reference(True, source, target, bands, frames=frames)


def _write(
    outputs: dict[int, str], status_path: str, record: dict, frames: dict[int, pd.DataFrame]
) -> None:
    """Every output at once: the tables (empty when unavailable) and the status record last."""
    empty = pd.DataFrame(
        {
            "objID": pd.Series(dtype="int64"),
            "true": pd.Series(dtype="float64"),
            "pred": pd.Series(dtype="float64"),
        }
    )
    for res, path in outputs.items():
        storage.write_parquet(path, frames.get(res, empty))
    storage.write_json(status_path, record)


def load_reference(
    status_path: str | Path | None, paths: dict[int, str | Path]
) -> Reference | None:
    """The stage's outputs as a :class:`Reference`; ``None`` when the stage is not configured."""
    if status_path is None:
        return None
    record = json.loads(Path(status_path).read_text())
    key = (record["source"], record["target"], record["bands"])
    if not record["available"]:
        return Reference(False, *key, reason=record["reason"])
    frames = {int(res): pd.read_parquet(path, columns=list(COLUMNS)) for res, path in paths.items()}
    return Reference(True, *key, frames=frames)


def published_test_ids(status_path: str | Path, path: str | Path) -> np.ndarray:
    """The objIDs of the published test set (config ``test_set: reference``), or an error saying why not."""
    reference = load_reference(status_path, {0: path})
    if not reference.available:
        raise ValueError(
            f"config 'test_set: reference' needs the published test galaxies, but the {reference.describe()}; "
            "or use test_set: random"
        )
    return reference.frames[0]["objID"].to_numpy()


COMPARISON_COLUMNS = (
    "resolution",
    "n_common",
    "rmse_ours",
    "nmad_ours",
    "rmse_published",
    "nmad_published",
    "rms_difference",
    "median_difference",
    "correlation",
    "note",
)


def compare(ours: dict[int, pd.DataFrame], reference: Reference) -> pd.DataFrame:
    """Ours against the published predictions on the test galaxies both have, per resolution.

    ``ours`` maps resolution to our fold-ensemble test predictions (objID, true, pred);
    a resolution without common galaxies gets ``n_common = 0`` and a note saying why.
    """
    if not ours:
        published = (
            f"published: {', '.join(map(str, sorted(reference.frames, reverse=True)))} px"
            if reference.available
            else reference.describe()
        )
        note = f"no trained resolution of the published target and bands has published predictions ({published})"
        return pd.DataFrame(
            [dict.fromkeys(COMPARISON_COLUMNS, np.nan) | {"n_common": 0, "note": note}],
            columns=list(COMPARISON_COLUMNS),
        )
    rows = []
    for res in sorted(ours, reverse=True):
        row = dict.fromkeys(COMPARISON_COLUMNS, np.nan) | {
            "resolution": int(res),
            "n_common": 0,
            "note": "",
        }
        if not reference.available:
            row["note"] = reference.describe()
        elif res not in reference.frames:
            row["note"] = f"no published predictions at {res} px"
        else:
            both = ours[res].merge(reference.frames[res], on="objID", suffixes=("_ours", "_pub"))
            if both.empty:
                row["note"] = (
                    f"none of our {len(ours[res])} test galaxies is among "
                    f"the {len(reference.frames[res])} published ones "
                    "(a mock survey has none; on SDSS use test_set: reference)"
                )
            else:
                diff = both["pred_ours"] - both["pred_pub"]
                row |= {
                    "n_common": len(both),
                    "rmse_ours": rmse(both["pred_ours"], both["true_ours"]),
                    "nmad_ours": nmad(both["pred_ours"], both["true_ours"]),
                    "rmse_published": rmse(both["pred_pub"], both["true_pub"]),
                    "nmad_published": nmad(both["pred_pub"], both["true_pub"]),
                    "rms_difference": float(np.sqrt(np.mean(diff**2))),
                    "median_difference": float(np.median(diff)),
                    "correlation": float(np.corrcoef(both["pred_ours"], both["pred_pub"])[0, 1])
                    if len(both) > 1
                    else np.nan,
                }
                gap = np.abs(both["true_ours"] - both["true_pub"]).max()
                if gap > 1e-3:
                    row["note"] = (
                        f"true values differ by up to {gap:.3f} dex between our catalogue and the published one"
                    )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def common_predictions(ours: pd.DataFrame, reference: Reference, res: int) -> pd.DataFrame:
    """objID, true, ours, published on the galaxies both sets hold (for the comparison figure)."""
    if not reference.available or res not in reference.frames:
        return pd.DataFrame(columns=["objID", "true", "ours", "published"])
    both = ours.merge(reference.frames[res], on="objID", suffixes=("", "_pub"))
    return both.rename(columns={"pred": "ours", "pred_pub": "published"})[
        ["objID", "true", "ours", "published"]
    ]


def build_comparison(
    prediction_paths: dict[int, str],
    status_path: str,
    reference_paths: dict[int, str],
    csv_path: str,
) -> pd.DataFrame:
    ours = {res: pd.read_parquet(p, columns=list(COLUMNS)) for res, p in prediction_paths.items()}
    table = compare(ours, load_reference(status_path, reference_paths))
    storage.write_csv(csv_path, table)
    for _, row in table.iterrows():
        # resolution is NaN in the one row that says why nothing could be compared
        where = f"{row['resolution']:.0f} px" if pd.notna(row["resolution"]) else "no resolution"
        log.info("%s: %d common galaxies %s", where, row["n_common"], row["note"])
    return table
