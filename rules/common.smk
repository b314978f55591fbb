# Paths, target lists and canonical params shared by every rules/*.smk file.
# Paths are defined once here; rules refer to these constants only.

import os

from galcnn.bundle import layout
from galcnn.mmr import CATALOG_COLUMNS

# Scripts (also in --sdm conda environments) import the package from the repository.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)

# ---- paths (the results layout others rely on) ----------------------------------------
CATALOG = "results/catalog/galaxies.parquet"
CATALOG_SQL = "results/catalog/query.sql"
CASJOBS_RECORD = "results/catalog/casjobs.json"
QUERY_PART = "results/catalog/partitions/part{part}.parquet"
MOCK_TRUTH = "results/catalog/mock_truth.parquet"
CUTOUT_ROOT = "results/cutouts"
CUTOUT_MANIFEST = "results/cutouts/shard{shard}.manifest.parquet"
IMAGES = "results/images/{res}px.npy"
IMAGE_INDEX = "results/images/index.parquet"
IMAGE_EXCLUDED = "results/images/excluded.parquet"
GALLERY = "results/images/gallery.npz"
SPLITS = "results/splits.parquet"
MODEL_DIR = "results/models/{target}/{bands}/{res}px/fold{fold}"
MODEL_PT = MODEL_DIR + "/model.pt"
MODEL_CONFIG = MODEL_DIR + "/config.json"
MODEL_HISTORY = MODEL_DIR + "/history.csv"
MODEL_METRICS = MODEL_DIR + "/metrics.json"
PREDICTIONS = "results/predictions/{target}/{bands}/{res}px.parquet"
PREDICTIONS_VAL = "results/predictions/{target}/{bands}/{res}px_validation.parquet"
BASELINE = "results/baselines/{method}/{target}.parquet"
SUMMARY_CSV = "results/tables/summary.csv"
SUMMARY_MD = "results/tables/summary.md"
MMR_CSV = "results/tables/mmr.csv"
FIGURE_DIR = "results/figures"
BUNDLE_DIR = "results/bundle"
WEIGHTS = "resources/weights/{arch}-imagenet.pth"

NATIVE_RES = config["cutouts"]["size"]

_bad_res = [r for r in config["resolutions"] if r > NATIVE_RES or NATIVE_RES % r]
if _bad_res:
    raise ValueError(
        f"config 'resolutions' has {_bad_res}: every resolution must divide cutouts.size={NATIVE_RES} px "
        f"(images are area-averaged from it), e.g. {[NATIVE_RES // 2**i for i in range(4)]}"
    )


def log_path(rule_name, pattern=""):
    """logs/<rule>/<wildcards>.log, mirroring the output's wildcards."""
    return f"logs/{rule_name}/{pattern or 'all'}.log"


def bench_path(rule_name, pattern=""):
    return f"benchmarks/{rule_name}/{pattern or 'all'}.tsv"


# ---- what the config asks for ----------------------------------------------------------
def shard_ids():
    return [f"{i:03d}" for i in range(config["cutouts"]["shards"])]


def part_ids():
    return [f"{i:03d}" for i in range(config["query"]["partitions"])]


def folds():
    return list(range(config["folds"]))


def casjobs_targets():
    """The CasJobs job's record, when the real survey is used and the config asks for it
    (not when restoring a results bundle: no query runs then)."""
    casjobs = config["survey"] == "sdss" and config["query"]["casjobs"]["enabled"]
    return [CASJOBS_RECORD] if casjobs and not config["bundle"] else []


def top_resolution():
    return max(config["resolutions"])


#: The paper's metallicity and stellar-mass targets; the analyses use those configured.
METALLICITY = "oh_p50"
MASS = "lgm_tot_p50"
#: The images of the headline results: the colour JPEG when configured.
MAIN_BANDS = "gri" if "gri" in config["bands"] else config["bands"][0]


def model_resolutions(target, bands):
    """Every configured resolution for the pairs of the resolution study, else the top one."""
    study = config["resolution_study"]
    if target in study["targets"] and bands in study["bands"]:
        return sorted(config["resolutions"], reverse=True)
    return [top_resolution()]


def cnn_keys():
    """(target, bands, res) of every trained configuration, in one fixed order."""
    return [[t, b, r] for t in config["targets"] for b in config["bands"] for r in model_resolutions(t, b)]


def main_predictions(target, res=None):
    """The fold-ensemble test predictions of the headline bands (top resolution by default)."""
    return PREDICTIONS.format(target=target, bands=MAIN_BANDS, res=res or top_resolution())


def canonical(obj):
    """A params value with keys sorted at every level, so the same settings always
    compare equal and only the settings a job uses can make it rerun."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


def gpu_resources(kind):
    """threads/runtime/mem_mb/gpu(/gpu_model) for a GPU rule, from config['resources'][kind]."""
    res = dict(config["resources"][kind])
    res.pop("threads")
    if not res.get("gpu_model"):
        res.pop("gpu_model", None)
    return res


# ---- results bundles (rules/bundle.smk) -----------------------------------------------
def bundle_inputs():
    """Every file the analysis, figure and report rules read, by category: `bundle` packs
    them (with the run's tables) and `bundle_restore` writes them back. A stage whose
    outputs an analysis rule starts to read adds them here."""
    models = [MODEL_CONFIG, MODEL_HISTORY, MODEL_METRICS] + ([MODEL_PT] if config["bundle_include_models"] else [])
    return {
        "catalog": [CATALOG] if has_mmr() else [],
        "splits": [SPLITS],
        "images": [IMAGE_INDEX] + ([GALLERY] if "fig1_gallery" in figure_names() else []),
        "predictions": [p.format(target=t, bands=b, res=r) for t, b, r in cnn_keys() for p in (PREDICTIONS, PREDICTIONS_VAL)],
        "baselines": [BASELINE.format(method=m, target=t) for m, t in baseline_keys()],
        "models": [p.format(target=t, bands=b, res=r, fold=f) for t, b, r in cnn_keys() for f in folds() for p in models],
    }


def bundle_tables():
    """The run's own tables: packed for comparison, not restored (the analysis remakes them)."""
    return [SUMMARY_CSV, SUMMARY_MD] + ([MMR_CSV] if has_mmr() else [])


def bundle_columns():
    """Tables of which the analysis reads only some columns: the bundle carries just those."""
    return {CATALOG: list(CATALOG_COLUMNS)} if has_mmr() else {}
