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
HEADLINE = "results/predictions/{target}/{bands}/{res}px_headline.parquet"
BASELINE = "results/baselines/{method}/{target}.parquet"
SUMMARY_CSV = "results/tables/summary.csv"
SUMMARY_MD = "results/tables/summary.md"
MMR_CSV = "results/tables/mmr.csv"
REFERENCE = "results/reference/{target}/{bands}/{res}px.parquet"
REFERENCE_STATUS = "results/reference/{target}/{bands}/status.json"
REFERENCE_COMPARISON = "results/tables/reference_comparison.csv"
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


_ref = config["reference"]
_ref_res = [f["resolution"] for f in _ref["files"]]
if len(set(_ref_res)) != len(_ref_res):
    raise ValueError(f"config 'reference.files' lists a resolution twice ({_ref_res}); give one file per resolution")
if config["test_set"] == "reference" and (config["survey"] != "sdss" or not _ref["enabled"]):
    raise ValueError(
        "config 'test_set: reference' makes the test set the authors' published test galaxies, real SDSS objIDs: "
        f"it needs survey: sdss (here {config['survey']!r}) and reference.enabled: true (here {_ref['enabled']}); "
        "use test_set: random otherwise"
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
    return [CASJOBS_RECORD] if casjobs and not config["bundle"]["source"] else []


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


if config["analysis"]["fold"] >= config["folds"]:
    raise ValueError(
        f"config 'analysis.fold' is {config['analysis']['fold']} but there are only {config['folds']} folds (0..{config['folds'] - 1}); "
        "pick one of them for the headline predictions"
    )


def headline_predictions(target, bands, res):
    """The test predictions the figures and the MMR show: one fold's model or the fold
    ensemble (config `analysis`), written by rule analysis_headline."""
    return HEADLINE.format(target=target, bands=bands, res=res)


def main_predictions(target, res=None):
    """The headline test predictions of the headline bands (top resolution by default)."""
    return headline_predictions(target, MAIN_BANDS, res or top_resolution())


def reference_enabled():
    return config["reference"]["enabled"]


def reference_resolutions():
    """The resolutions with published predictions, largest first ([] when the stage is off)."""
    return sorted((f["resolution"] for f in config["reference"]["files"]), reverse=True) if reference_enabled() else []


def reference_tables():
    """{res: path} of the stored published predictions."""
    ref = config["reference"]
    return {r: REFERENCE.format(target=ref["target"], bands=ref["bands"], res=r) for r in reference_resolutions()}


def reference_status():
    ref = config["reference"]
    return REFERENCE_STATUS.format(target=ref["target"], bands=ref["bands"])


def reference_inputs():
    """The reference stage's outputs as a rule's named inputs (none when it is off)."""
    if not reference_enabled():
        return {}
    return {"reference": list(reference_tables().values()), "reference_status": reference_status()}


def reference_matches(target, bands):
    """Whether the published predictions are of this target from these images."""
    ref = config["reference"]
    return reference_enabled() and (ref["target"], ref["bands"]) == (target, bands)


def compared_resolutions():
    """Our trained resolutions of the published target and bands that also have published predictions."""
    ref = config["reference"]
    if not reference_enabled() or ref["target"] not in config["targets"] or ref["bands"] not in config["bands"]:
        return []
    return [r for r in model_resolutions(ref["target"], ref["bands"]) if r in reference_resolutions()]


def split_settings():
    """What the splits depend on. test_set appears only when it is not the default, so runs made
    before the key existed keep their splits (and their trained models)."""
    settings = {"folds": config["folds"], "seed": config["seed"], "test_fraction": config["test_fraction"]}
    return settings | ({"test_set": config["test_set"]} if config["test_set"] != "random" else {})


def splits_inputs(wildcards):
    """The image index, and the published test set when it is the test set (test_set: reference)."""
    inputs = {"index": IMAGE_INDEX}
    if config["test_set"] == "reference":
        top = reference_resolutions()[0]
        inputs |= {"reference": reference_tables()[top], "reference_status": reference_status()}
    return inputs


def compared_predictions():
    """Our fold-ensemble test predictions at :func:`compared_resolutions`."""
    ref = config["reference"]
    return [PREDICTIONS.format(target=ref["target"], bands=ref["bands"], res=r) for r in compared_resolutions()]


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
    models = [MODEL_CONFIG, MODEL_HISTORY, MODEL_METRICS] + ([MODEL_PT] if config["bundle"]["include_models"] else [])
    return {
        "catalog": [CATALOG] if has_mmr() else [],
        "splits": [SPLITS],
        "images": [IMAGE_INDEX] + ([GALLERY] if "fig1_gallery" in figure_names() else []),
        "predictions": [p.format(target=t, bands=b, res=r) for t, b, r in cnn_keys() for p in (PREDICTIONS, PREDICTIONS_VAL)],
        "baselines": [BASELINE.format(method=m, target=t) for m, t in baseline_keys()],
        "models": [p.format(target=t, bands=b, res=r, fold=f) for t, b, r in cnn_keys() for f in folds() for p in models],
        "reference": [*reference_tables().values(), reference_status()] if reference_enabled() else [],
    }


def bundle_tables():
    """The run's own tables: packed for comparison, not restored (the analysis remakes them)."""
    return [SUMMARY_CSV, SUMMARY_MD] + ([MMR_CSV] if has_mmr() else []) + ([REFERENCE_COMPARISON] if reference_enabled() else [])


def bundle_columns():
    """Tables of which the analysis reads only some columns: the bundle carries just those."""
    return {CATALOG: list(CATALOG_COLUMNS)} if has_mmr() else {}
