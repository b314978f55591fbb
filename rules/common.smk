# Paths, target lists and canonical params shared by every rules/*.smk file.

import os
from pathlib import Path

from galcnn.apply import results_name
from galcnn.bundle import layout
from galcnn.catalog import MASS, METALLICITY
from galcnn.mmr import CATALOG_COLUMNS
from galcnn.paths import *  # noqa: F403 (the results layout: path patterns defined once for rules and package)

# Scripts (also in --sdm conda environments) import the package from the repository. The
# variable is set here, not required from the user, so there is nothing for `envvars:` to assert.
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p)
)

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
    raise ValueError(
        f"config 'reference.files' lists a resolution twice ({_ref_res}); give one file per resolution"
    )
if config["test_set"] == "reference" and (config["survey"] != "sdss" or not _ref["enabled"]):
    raise ValueError(
        "config 'test_set: reference' makes the test set the authors' published test galaxies, real SDSS objIDs: "
        f"it needs survey: sdss (here {config['survey']!r}) and reference.enabled: true (here {_ref['enabled']}); "
        "use test_set: random otherwise"
    )


def store_root(wildcards, output):
    """A shard job's cutout store: the folder of the manifest it writes (galcnn.paths.SHARD_MANIFEST)."""
    return os.path.dirname(output.manifest)


def log_path(rule_name, pattern=""):
    """logs/<rule>/<wildcards>.log, mirroring the output's wildcards."""
    return f"logs/{rule_name}/{pattern or 'all'}.log"


def bench_path(rule_name, pattern=""):
    return f"benchmarks/{rule_name}/{pattern or 'all'}.tsv"


# ---- what the config asks for ----------------------------------------------------------
def shard_ids():
    return [shard_id(i) for i in range(config["cutouts"]["shards"])]


def part_ids():
    return [shard_id(i) for i in range(config["query"]["partitions"])]


def folds():
    return list(range(config["folds"]))


def casjobs_targets():
    """The CasJobs job's record, when the real survey is used and the config asks for it
    (not when restoring a results bundle: no query runs then)."""
    casjobs = config["survey"] == "sdss" and config["query"]["casjobs"]["enabled"]
    return [CASJOBS_RECORD] if casjobs and not config["bundle"]["source"] else []


def top_resolution():
    return max(config["resolutions"])


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
    return [
        [t, b, r]
        for t in config["targets"]
        for b in config["bands"]
        for r in model_resolutions(t, b)
    ]


if config["analysis"]["fold"] >= config["folds"]:
    raise ValueError(
        f"config 'analysis.fold' is {config['analysis']['fold']} but there are only "
        f"{config['folds']} folds (0..{config['folds'] - 1}); "
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
    return (
        sorted((f["resolution"] for f in config["reference"]["files"]), reverse=True)
        if reference_enabled()
        else []
    )


def reference_tables():
    """{res: path} of the stored published predictions."""
    ref = config["reference"]
    return {
        r: REFERENCE.format(target=ref["target"], bands=ref["bands"], res=r)
        for r in reference_resolutions()
    }


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
    if (
        not reference_enabled()
        or ref["target"] not in config["targets"]
        or ref["bands"] not in config["bands"]
    ):
        return []
    return [
        r for r in model_resolutions(ref["target"], ref["bands"]) if r in reference_resolutions()
    ]


def split_settings():
    """What the splits depend on. test_set appears only when it is not the default, so runs made
    before the key existed keep their splits (and their trained models)."""
    settings = {
        "folds": config["folds"],
        "seed": config["seed"],
        "test_fraction": config["test_fraction"],
    }
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
    return [
        PREDICTIONS.format(target=ref["target"], bands=ref["bands"], res=r)
        for r in compared_resolutions()
    ]


def canonical(obj):
    """A params value with keys sorted at every level, so the same settings always
    compare equal and only the settings a job uses can make it rerun."""
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


#: The config's resources: entry of each rule that takes its requests from there.
CONFIG_RESOURCES = {
    "train_cnn": "resources.train",
    "predict_cnn": "resources.predict",
    "apply_predict": "resources.predict",
}


# What determines the cutouts: the server address and the politeness settings
# (cutouts.concurrency/rate_limit/retries/timeout/...) do not, so the download script reads
# them from the config and changing them reruns nothing.
CUTOUT_SERVICE = canonical(
    {
        "data_release": config["sdss"]["data_release"],
        "size": config["cutouts"]["size"],
        "scale": config["cutouts"]["scale"],
        "opt": config["cutouts"]["opt"],
    }
)
MOCK_RENDER = canonical(
    {
        "size": config["cutouts"]["size"],
        "scale": config["cutouts"]["scale"],
        "seed": config["mock"]["seed"],
    }
)


def gpu_resources(kind):
    """threads/runtime/mem_mb/gpu(/gpu_model) for a GPU rule, from config['resources'][kind]."""
    res = dict(config["resources"][kind])
    res.pop("threads")
    if not res.get("gpu_model"):
        res.pop("gpu_model", None)
    return res


# ---- training (rules/train.smk) ---------------------------------------------------------
def train_inputs(wildcards):
    """The fold's images and tables; the split counts are not read, they make the job wait
    for splits_check, so no model trains before its target's galaxies are known to suffice."""
    inputs = {
        "images": IMAGES.format(res=wildcards.res),
        "index": IMAGE_INDEX,
        "splits": SPLITS,
        "catalog": CATALOG,
    }
    inputs["counts"] = SPLIT_COUNTS.format(target=wildcards.target)
    if config["train"]["pretrained"] == "imagenet":
        inputs["weights"] = WEIGHTS.format(arch=config["train"]["arch"])
    return inputs


# ---- analysis and figures (rules/analysis.smk, rules/figures.smk) -----------------------
def baseline_keys():
    return [[m, t] for m in ("rf", "mean") for t in config["targets"]]


def has_mmr():
    return METALLICITY in config["targets"]


def figure_output(name, ext):
    return report(
        f"{FIGURE_DIR}/{name}.{ext}",
        caption=f"../report/{name}.rst",
        category="Figures" if ext == "png" else "Figures (PDF)",
    )


def figure_outputs(name):
    return {"pdf": figure_output(name, "pdf"), "png": figure_output(name, "png")}


def figure_names():
    """The figures the configured targets and bands allow."""
    names = []
    if METALLICITY in config["targets"]:
        names += [
            "fig1_gallery",
            "fig2_predicted_vs_true",
            "fig3_resolution",
            "fig_mmr",
            "fig_diagnostic",
        ]
        if MASS in config["targets"]:
            names.append("fig4_mass")
    if reference_enabled():
        names.append("fig2_published")
        # Only real SDSS galaxies can be among the published test set.
        if config["survey"] == "sdss" and compared_resolutions():
            names.append("fig_reference_comparison")
    return names


def resolution_inputs():
    """Fig. 3's predictions and baselines, and the published curve when it is of the same target and images."""
    inputs = {
        "cnn": [
            main_predictions(METALLICITY, res) for res in model_resolutions(METALLICITY, MAIN_BANDS)
        ],
        "rf": BASELINE.format(method="rf", target=METALLICITY),
        "mean": BASELINE.format(method="mean", target=METALLICITY),
    }
    return inputs | (reference_inputs() if reference_matches(METALLICITY, MAIN_BANDS) else {})


def diagnostic_inputs():
    models = {"cnn_gri": main_predictions(METALLICITY)}
    if "r" in config["bands"] and MAIN_BANDS != "r":
        models["cnn_r"] = headline_predictions(METALLICITY, "r", top_resolution())
    models["rf"] = BASELINE.format(method="rf", target=METALLICITY)
    return models


# ---- results bundles (rules/bundle.smk) -----------------------------------------------
def bundle_inputs():
    """Every file the analysis, figure and report rules read, by category: `bundle` packs
    them (with the run's tables) and `bundle_restore` writes them back. A stage whose
    outputs an analysis rule starts to read adds them here."""
    models = [MODEL_CONFIG, MODEL_HISTORY, MODEL_METRICS] + (
        [MODEL_PT] if config["bundle"]["include_models"] else []
    )
    return {
        "catalog": [CATALOG] if has_mmr() else [],
        "splits": [SPLITS],
        "images": [IMAGE_INDEX] + ([GALLERY] if "fig1_gallery" in figure_names() else []),
        "predictions": [
            p.format(target=t, bands=b, res=r)
            for t, b, r in cnn_keys()
            for p in (PREDICTIONS, PREDICTIONS_VAL)
        ],
        "baselines": [BASELINE.format(method=m, target=t) for m, t in baseline_keys()],
        "models": [
            p.format(target=t, bands=b, res=r, fold=f)
            for t, b, r in cnn_keys()
            for f in folds()
            for p in models
        ],
        "reference": (
            [*reference_tables().values(), reference_status()] if reference_enabled() else []
        ),
    }


def bundle_tables():
    """The run's own tables: packed for comparison, not restored (the analysis remakes them)."""
    return (
        [SUMMARY_CSV, SUMMARY_MD, UNCERTAINTY_CSV]
        + ([MMR_CSV] if has_mmr() else [])
        + ([REFERENCE_COMPARISON] if reference_enabled() else [])
    )


def bundle_columns():
    """Tables of which the analysis reads only some columns: the bundle carries just those."""
    return {CATALOG: list(CATALOG_COLUMNS)} if has_mmr() else {}


# ---- new galaxies (rules/apply.smk) -----------------------------------------------------
_apply = config["apply"]
APPLY_NAME = results_name(_apply["catalog"], _apply["name"])
APPLY_BANDS = _apply["bands"] or MAIN_BANDS
APPLY_RES = _apply["resolution"] or top_resolution()
APPLY_DIR = f"{APPLY_ROOT}/{APPLY_NAME}"
APPLY_CATALOG = f"{APPLY_DIR}/catalog.parquet"
APPLY_TRUTH = f"{APPLY_DIR}/mock_truth.parquet"
APPLY_CUTOUTS = f"{APPLY_DIR}/cutouts"
# One shard: a catalogue of new galaxies is small beside the training sample.
APPLY_MANIFEST = f"{APPLY_CUTOUTS}/{SHARD_MANIFEST.format(shard=shard_id(0))}"
APPLY_IMAGES = f"{APPLY_DIR}/images/{NATIVE_RES}px.npy"
APPLY_INDEX = f"{APPLY_DIR}/images/index.parquet"
APPLY_EXCLUDED = f"{APPLY_DIR}/images/excluded.parquet"
APPLY_PREDICTIONS = f"{APPLY_DIR}/predictions/{{target}}.parquet"
APPLY_TABLE = f"{APPLY_ROOT}/{APPLY_NAME}.parquet"
APPLY_CSV = f"{APPLY_ROOT}/{APPLY_NAME}.csv"


def apply_model(target):
    return EXPORT_JSON.format(target=target, bands=APPLY_BANDS, res=APPLY_RES)


def apply_outputs(wildcards):
    if not _apply["catalog"]:
        raise ValueError(
            "`snakemake apply` needs a catalogue: set apply.catalog to a .csv or .parquet file with ra and dec "
            "in degrees, e.g. --config apply='{catalog: galaxies.csv, name: galaxies}' "
            "or an apply: block in a --configfile"
        )
    return [APPLY_TABLE, APPLY_CSV]


def apply_catalog_file(wildcards):
    path = Path(_apply["catalog"])
    if not path.is_file():
        raise FileNotFoundError(
            f"apply catalogue {path} (config apply.catalog) does not exist; "
            "give a .csv or .parquet file with ra and dec columns"
        )
    return str(path)


def calibration_figure_keys():
    """The configurations of the headline results: each target from the main bands at the top resolution."""
    return [[t, MAIN_BANDS, top_resolution()] for t in config["targets"]]
