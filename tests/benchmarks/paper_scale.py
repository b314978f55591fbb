"""Every CPU stage of the paper's DAG at the paper's size: wall time and peak resident memory.

Builds, in a scratch folder, a synthetic input of the paper's size (142,176 galaxies): a mock
catalogue with the real query's columns through the paper's cuts, one JPEG cutout per galaxy in
the cutout store's shards (the JPEGs repeat a pool of rendered mock cutouts under different
objIDs; ~1 % of galaxies are listed as blank or failed), and stand-in predictions of every fold
model of the paper's DAG (config/config.yaml), written as `predict_cnn` writes them. Then it runs
Snakemake on that folder with the paper's configuration, one stage at a time, allowing only the
non-GPU rules (training and prediction are replaced by the stand-ins), and reads each stage's
wall time, CPU time (user + system) and the peak resident memory of its process tree (Snakemake
included) from wait4, and the seconds and max_rss of its jobs from their Snakemake benchmark files
(rules with a `benchmark:`). On a machine shared with other work, wall time grows with the load
and CPU time much less: compare both.
The published reference is recorded as unavailable (no network is assumed).

The last line is ``paper_scale_s=<total> peak_rss_mb=<largest>``.

    python tests/benchmarks/paper_scale.py [--scale 0.02] [--scratch DIR] [--keep] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(REPO))
from galcnn import paths  # noqa: E402 (after the path set-up; imports nothing heavy)

# The synthetic input is made in child processes (--build, --stand-ins) and this process imports
# nothing heavy: a child's peak RSS as the kernel reports it starts at its parent's RSS at fork.

N_GALAXIES = 142_176  # the paper's sample (paper §3.1)
POOL = 256  # distinct rendered cutouts the store's JPEGs repeat
BLANK_SHARE, FAILED_SHARE = 0.008, 0.002  # manifest entries that packing must exclude
#: Rules that need a GPU or the network, or that make the synthetic inputs: never run here.
SKIPPED_RULES = {"train_cnn", "predict_cnn", "weights_fetch", "bundle", "bundle_restore", "all"}
SKIPPED_PREFIXES = ("catalog_", "cutouts_")
#: The order stages run in; rules not listed (the figures) follow in the dry run's order.
ORDER = (
    "reference_fetch",
    "ensemble_folds",
    "calibrate_uncertainty",
    "uncertainty_table",
    "analysis_mmr",
    "analysis_summary",
    "reference_comparison",
    "images_gallery",
)
#: The paper's run offline: the published reference is recorded as unavailable at once.
OVERRIDES = {
    "reference": {
        "url": "http://127.0.0.1:9",
        "local_dir": "resources/reference",
        "retries": 1,
        "timeout": 5.0,
    }
}


def paper_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def simulate_catalogue(n: int, cuts: dict, seed: int = 2019):
    """``n`` mock galaxies through the paper's cuts (catalogue, truth), drawn in chunks."""
    import pandas as pd

    from galcnn.mock import catalog as mc

    catalogs, truths, have = [], [], 0
    chunk = 0
    while have < n:
        # about a quarter of the drawn galaxies pass the cuts
        cat, truth = mc.simulate_catalog(min(200_000, 5 * (n - have) + 1000), seed + chunk, cuts)
        catalogs.append(cat)
        truths.append(truth.head(10 * POOL))
        have += len(cat)
        chunk += 1
    catalog = (
        pd.concat(catalogs, ignore_index=True)
        .drop_duplicates("objID")
        .head(n)
        .reset_index(drop=True)
    )
    return catalog, pd.concat(truths, ignore_index=True)


def jpeg_pool(truth, cfg: dict) -> list[bytes]:
    """JPEGs of the first :data:`POOL` galaxies whose cutouts pass the blank rule."""
    from galcnn import cutouts
    from galcnn.mock import images as mi

    size, scale = cfg["cutouts"]["size"], cfg["cutouts"]["scale"]
    pool = []
    for _, row in truth.iterrows():
        jpeg = mi.encode_jpeg(mi.render_cutout(row, size, scale, mi.galaxy_rng(2019, row["objID"])))
        if cutouts.check_jpeg(jpeg, size)[0] == cutouts.OK:
            pool.append(jpeg)
        if len(pool) == POOL:
            return pool
    raise SystemExit(f"only {len(pool)} usable cutouts rendered for the pool of {POOL}")


def write_store(root: Path, catalog, pool: list[bytes], n_shards: int) -> int:
    """The cutout store (shard folders and manifests) for ``catalog``; returns the bytes written."""
    import numpy as np

    from galcnn import cutouts

    objids = catalog["objID"].to_numpy(np.int64)
    rng = np.random.default_rng(0)
    status = rng.choice(
        [cutouts.OK, cutouts.BLANK, cutouts.FAILED],
        size=len(objids),
        p=[1 - BLANK_SHARE - FAILED_SHARE, BLANK_SHARE, FAILED_SHARE],
    )
    shards = cutouts.shard_of(objids, n_shards)
    written = 0
    for shard in range(n_shards):
        folder = cutouts.shard_dir(root, shard)
        folder.mkdir(parents=True, exist_ok=True)
        records = []
        for i in np.flatnonzero(shards == shard):
            path = cutouts.cutout_path(root, shard, objids[i])
            if status[i] != cutouts.FAILED:
                jpeg = pool[i % len(pool)]
                path.write_bytes(jpeg)
                written += len(jpeg)
            reason = {
                cutouts.OK: "",
                cutouts.BLANK: "no source at the centre (synthetic)",
                cutouts.FAILED: "HTTP 500 (synthetic)",
            }[status[i]]
            records.append(
                {"objID": int(objids[i]), "status": status[i], "reason": reason, "path": str(path)}
            )
        cutouts.write_manifest(cutouts.manifest_path(root, shard), records)
    return written


def write_predictions(wf: Path, cfg: dict) -> int:
    """Stand-in predictions.parquet of every fold model, for the rows predict_cnn predicts; returns the file count."""
    import numpy as np
    import pandas as pd

    from galcnn import storage
    from galcnn.cnn import data
    from galcnn.cnn.predict import PREDICTION_COLUMNS
    from galcnn.pipeline.plan import Plan

    index = pd.read_parquet(wf / paths.IMAGE_INDEX)
    splits = pd.read_parquet(wf / paths.SPLITS)
    catalog = pd.read_parquet(wf / paths.CATALOG)
    rng = np.random.default_rng(1)
    n = 0
    for target, bands, res in Plan(cfg).cnn_keys():
        for fold in range(cfg["folds"]):
            subsets = data.fold_subsets(index, splits, catalog, target, fold)
            frames = []
            for name in ("test", "validation"):
                sub = subsets[name]
                noise = rng.normal(0, 0.1, size=(3, len(sub.y)))
                frames.append(
                    pd.DataFrame(
                        {
                            "objID": sub.objid,
                            "set": name,
                            "true": sub.y,
                            "pred": sub.y + noise[0],
                            "pred_notta": sub.y + noise[1],
                            "spread": np.abs(noise[2]) / 5,
                        },
                        columns=PREDICTION_COLUMNS,
                    )
                )
            path = paths.MODEL_PREDICTIONS.format(target=target, bands=bands, res=res, fold=fold)
            storage.write_parquet(wf / path, pd.concat(frames, ignore_index=True))
            n += 1
    return n


def disk_needed(n: int, cfg: dict, jpeg_bytes: float) -> dict[str, float]:
    """Bytes each part of the scratch folder takes (the cutouts rounded up to 4 KiB file blocks)."""
    size = cfg["cutouts"]["size"]
    return {
        "cutouts": n * 4096 * -(-jpeg_bytes // 4096),
        f"{size} px array": n * size * size * 3,
        "lower resolutions": n * 3 * sum(r * r for r in cfg["resolutions"] if r != size),
        "catalogue, predictions, tables, figures": n * 3000.0 + 200e6,
    }


def build(wf: Path, n: int) -> None:
    """The scratch workflow and its synthetic input (run in a child process)."""
    import numpy as np
    from conftest import copy_workflow

    from galcnn import storage

    cfg = paper_config()
    start = time.perf_counter()
    copy_workflow(wf)
    storage.write_text(wf / "overrides.yaml", yaml.safe_dump(OVERRIDES))
    catalog, truth = simulate_catalogue(n, cfg["query"]["cuts"])
    storage.write_parquet(wf / paths.CATALOG, catalog)
    pool = jpeg_pool(truth, cfg)
    written = write_store(wf / paths.CUTOUT_ROOT, catalog, pool, cfg["cutouts"]["shards"])
    print(
        f"synthetic input: {len(catalog):,} catalogue rows, {written / 1e9:.2f} GB of cutouts "
        f"(pool of {len(pool)}, {np.mean([len(p) for p in pool]):.0f} "
        f"bytes per JPEG) in {time.perf_counter() - start:.0f} s; in {wf}"
    )


class Runner:
    """Runs Snakemake stages in the scratch workflow and records wall time and peak RSS."""

    def __init__(self, wf: Path, cores: int, allowed: list[str]):
        self.wf, self.cores, self.allowed = wf, cores, allowed
        self.rows: list[tuple[str, float, float, float]] = []
        self.snakemake = str(Path(sys.executable).with_name("snakemake"))
        self.base = ["--configfile", "config/config.yaml", "overrides.yaml"]

    def command(self, *args: str) -> list[str]:
        # targets first: --allowed-rules takes every word after it
        return [
            self.snakemake,
            *args,
            *self.base,
            "--cores",
            str(self.cores),
            "--allowed-rules",
            *self.allowed,
        ]

    def run(self, label: str, cmd: list[str]) -> None:
        log = self.wf / "stage_logs" / f"{label.replace(' ', '_').replace('/', '_')}.log"
        log.parent.mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        start = time.perf_counter()
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, cwd=self.wf, env=env, stdout=out, stderr=subprocess.STDOUT)
            # wait4's rusage covers the child and every descendant it waited for: Snakemake and its jobs.
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(
                f"stage {label} failed ({proc.returncode}); its log {log}:\n{log.read_text()[-6000:]}"
            )
        rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
        jobs = self.job_benchmarks(since=time.time() - seconds)
        cpu = usage.ru_utime + usage.ru_stime
        self.rows.append((label, seconds, cpu, rss_mb))
        job_s = f"{sum(s for s, _ in jobs):9.1f} s" if jobs else f"{'-':>11}"
        job_rss = f"{max(r for _, r in jobs):9.0f} MB" if jobs else f"{'-':>12}"
        print(
            f"{label:<34} {len(jobs) or '':>4} {seconds:9.1f} s {cpu:9.1f} s {rss_mb:9.0f} MB {job_s} {job_rss}",
            flush=True,
        )

    def job_benchmarks(self, since: float) -> list[tuple[float, float]]:
        """(seconds, max_rss MB) of the jobs whose Snakemake benchmark file was written since ``since``."""
        jobs = []
        for tsv in (self.wf / "benchmarks").rglob("*.tsv"):
            if tsv.stat().st_mtime >= since:
                header, values = tsv.read_text().splitlines()[:2]
                row = dict(zip(header.split("\t"), values.split("\t")))
                jobs.append(
                    (float(row["s"]), float(row["max_rss"]) if row["max_rss"] != "NA" else 0.0)
                )
        return jobs

    def targets(self, label: str, *paths: str) -> None:
        self.run(label, self.command(*paths))

    def until(self, rule: str) -> None:
        self.run(rule, self.command("all", "--until", rule))

    def pending_rules(self) -> list[str]:
        """Rules with jobs left in the non-GPU DAG of `all`, in the dry run's order."""
        proc = subprocess.run(
            self.command("all", "-n", "--quiet", "rules"),
            cwd=self.wf,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        rules, table = [], False
        for line in proc.stdout.splitlines():
            parts = line.split()
            if parts[:2] == ["job", "count"]:
                table = True
            elif (
                table
                and len(parts) == 2
                and parts[1].isdigit()
                and parts[0] not in ("total", "all", *rules)
            ):
                rules.append(parts[0])
        return rules


def all_rules(wf: Path, runner: Runner) -> list[str]:
    proc = subprocess.run(
        [runner.snakemake, *runner.base, "--list-rules"],
        cwd=wf,
        capture_output=True,
        text=True,
        check=True,
    )
    return [r.strip() for r in proc.stdout.split() if r.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the paper's 142,176 galaxies (e.g. 0.02 for a quick run)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="folder to build the scratch workflow in (needs the disk printed first)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch workflow (its path is printed)"
    )
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores for each stage")
    parser.add_argument("--build", nargs=2, metavar=("WF", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--stand-ins", metavar="WF", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        return build(Path(args.build[0]), int(args.build[1]))
    if args.stand_ins:
        made = write_predictions(Path(args.stand_ins), paper_config())
        return print(f"(stand-in predictions of {made} fold models written, untimed)")

    cfg = paper_config()
    n = max(2000, round(N_GALAXIES * args.scale))
    need = disk_needed(
        n, cfg, jpeg_bytes=9000
    )  # a budget for real DR14 JPEGs; the mock ones are 2.4 kB
    free = shutil.disk_usage(args.scratch).free
    print(
        f"{n:,} galaxies; disk needed in {args.scratch}: {sum(need.values()) / 1e9:.1f} GB "
        f"({', '.join(f'{k} {v / 1e9:.2f} GB' for k, v in need.items())}); free {free / 1e9:.1f} GB",
        flush=True,
    )
    if sum(need.values()) > 0.95 * free:
        raise SystemExit(
            f"not enough free disk in {args.scratch}; give --scratch a folder "
            f"with {sum(need.values()) / 1e9:.1f} GB free, or a smaller --scale"
        )

    scratch = Path(tempfile.mkdtemp(prefix="paper_scale_", dir=args.scratch))
    try:
        wf = scratch / "wf"
        subprocess.run([sys.executable, __file__, "--build", str(wf), str(n)], check=True)
        runner = Runner(wf, args.cores, [])
        runner.allowed = [
            r
            for r in all_rules(wf, runner)
            if r not in SKIPPED_RULES and not r.startswith(SKIPPED_PREFIXES)
        ]
        size = cfg["cutouts"]["size"]
        print(
            f"{'stage':<34} {'jobs':>4} {'wall':>11} {'CPU':>11} {'peak RSS':>12} {'jobs (s)':>11} {'job max_rss':>12}",
            flush=True,
        )
        runner.targets("images_pack", paths.IMAGES.format(res=size))
        for res in sorted(cfg["resolutions"], reverse=True):
            if res != size:
                runner.targets(f"images_downsample {res}px", paths.IMAGES.format(res=res))
        runner.targets("splits", paths.SPLITS)

        subprocess.run([sys.executable, __file__, "--stand-ins", str(wf)], check=True)
        for target in cfg["targets"]:
            for method in ("rf", "mean"):
                runner.targets(
                    f"baselines_{method} {target}",
                    paths.BASELINE.format(method=method, target=target),
                )
        pending = runner.pending_rules()
        for rule in sorted(pending, key=lambda r: ORDER.index(r) if r in ORDER else len(ORDER)):
            runner.until(rule)
        runner.run(
            "report", [runner.snakemake, *runner.base, "--report", f"{paths.RESULTS}/report.html"]
        )

        total = sum(row[1] for row in runner.rows)
        cpu = sum(row[2] for row in runner.rows)
        peak = max(row[3] for row in runner.rows)
        print(f"{'total':<39} {total:9.1f} s {cpu:9.1f} s {peak:9.0f} MB")
        used = sum(f.stat().st_size for f in (wf / paths.RESULTS).rglob("*") if f.is_file())
        print(f"scratch results: {used / 1e9:.2f} GB")
        print(f"paper_scale_s={total:.0f} peak_rss_mb={peak:.0f}")
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
