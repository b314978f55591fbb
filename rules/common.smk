# What every rules/*.smk file shares: the run's plan (galcnn/pipeline/plan.py: targets, resolutions,
# figures, paths read from the config), and what needs Snakemake (input functions, report
# entries, log and benchmark paths, resources).

import os
from pathlib import Path

from galcnn.bundle import layout
from galcnn.catalog import MASS, METALLICITY
from galcnn.local import as_list
from galcnn.paths import *  # noqa: F403 (the results layout: path patterns defined once for rules and package)
from galcnn.pipeline.plan import Plan, canonical

# Scripts (also in --sdm conda environments) import the package from the repository. The
# variable is set here, not required from the user, so there is nothing for `envvars:` to assert.
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p)
)

#: The run the config asks for (galcnn/pipeline/plan.py); its answers under the names the rule files use.
PLAN = Plan(config)
NATIVE_RES = PLAN.native_res
MAIN_BANDS = PLAN.main_bands
shard_ids, part_ids, folds = PLAN.shard_ids, PLAN.part_ids, PLAN.folds
cnn_keys, model_resolutions, baseline_keys = (
    PLAN.cnn_keys,
    PLAN.model_resolutions,
    PLAN.baseline_keys,
)
casjobs_targets, split_settings, has_mmr = PLAN.casjobs_targets, PLAN.split_settings, PLAN.has_mmr
main_predictions, calibration_figure_keys = PLAN.main_predictions, PLAN.calibration_figure_keys
reference_enabled, reference_resolutions = PLAN.reference_enabled, PLAN.reference_resolutions
reference_tables, reference_status = PLAN.reference_tables, PLAN.reference_status
reference_inputs, reference_matches = PLAN.reference_inputs, PLAN.reference_matches
compared_resolutions, compared_predictions = PLAN.compared_resolutions, PLAN.compared_predictions
figure_names, resolution_inputs, diagnostic_inputs = (
    PLAN.figure_names,
    PLAN.resolution_inputs,
    PLAN.diagnostic_inputs,
)
bundle_inputs, bundle_tables, bundle_columns = (
    PLAN.bundle_inputs,
    PLAN.bundle_tables,
    PLAN.bundle_columns,
)
FRAMING, CUTOUT_SERVICE, MOCK_RENDER = PLAN.framing(), PLAN.cutout_service(), PLAN.mock_render()
APPLY = PLAN.apply()
trained_models, report_tables = PLAN.trained_models, PLAN.report_tables


# ---- the user's own cutouts (survey: local, rules/local.smk; apply.images) ---------------
# Stages left out because the local catalogue lacks their inputs, said once here.
for _why in PLAN.skipped.values():
    logger.warning(_why)
LOCAL_CATALOGS = as_list(config["local"]["catalog"])
LOCAL_IMAGES = as_list(config["local"]["images"])
# What the stored images depend on besides the files: no image smaller than the largest resolution.
LOCAL_IMPORT = {"min_size": max(config["resolutions"]), "size": NATIVE_RES}


# ---- log, benchmark and shard paths ----------------------------------------------------------
def store_root(wildcards, output):
    """A shard job's cutout store: the folder of the manifest it writes (galcnn.paths.SHARD_MANIFEST)."""
    return os.path.dirname(output.manifest)


def log_path(rule_name, pattern=""):
    """logs/<rule>/<wildcards>.log, mirroring the output's wildcards."""
    return f"logs/{rule_name}/{pattern or 'all'}.log"


def bench_path(rule_name, pattern=""):
    return f"benchmarks/{rule_name}/{pattern or 'all'}.tsv"


# ---- input functions, resources and report entries ------------------------------------------
def splits_inputs(wildcards):
    """The image index, and the published test set when it is the test set (test_set: reference)."""
    inputs = {"index": IMAGE_INDEX}
    if config["test_set"] == "reference":
        top = reference_resolutions()[0]
        inputs |= {"reference": reference_tables()[top], "reference_status": reference_status()}
    return inputs


#: The config's resources: entry of each rule that takes its requests from there.
CONFIG_RESOURCES = {
    "train_cnn": "resources.train",
    "predict_cnn": "resources.predict",
    "apply_predict": "resources.predict",
}


def gpu_resources(kind):
    """threads/runtime/mem_mb/gpu(/gpu_model) for a GPU rule, from config['resources'][kind]."""
    res = dict(config["resources"][kind])
    res.pop("threads")
    if not res.get("gpu_model"):
        res.pop("gpu_model", None)
    # gpu: 0 (CPU training, e.g. the demo) requests nothing rather than showing gpu=0 or 1.
    if not res.get("gpu"):
        res.pop("gpu", None)
    return res


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


# ---- the report (report(): categories and labels) -------------------------------------
#: The report's entries in the paper's order, under categories whose names sort in the order
#: to read them (the report lists categories and their entries alphabetically): the summary,
#: the paper's figures, our checks, the other tables, and the downloads.
REPORT_ENTRIES = {
    "summary": ("1. Summary", "summary table"),
    "fig1_gallery": ("2. The paper's figures", "Fig. 1 gallery"),
    "fig2_predicted_vs_true": ("2. The paper's figures", "Fig. 2 predicted vs true"),
    "fig3_resolution": ("2. The paper's figures", "Fig. 3 image size"),
    "fig4_mass": ("2. The paper's figures", "Fig. 4 stellar mass"),
    "fig_mmr": ("2. The paper's figures", "Fig. MMR mass-metallicity scatter"),
    "fig_diagnostic": ("2. The paper's figures", "Fig. R diagnostic: r band, colours"),
    "fig_training": ("3. Checks", "a training curves"),
    "fig_calibration": ("3. Checks", "b uncertainty calibration"),
    "fig2_published": ("3. Checks", "c Fig. 2 from the published predictions"),
    "fig_reference_comparison": ("3. Checks", "d ours against the published"),
    "mmr": ("4. Tables", "a mass-metallicity scatter"),
    "uncertainty": ("4. Tables", "b uncertainties"),
    "reference_comparison": ("4. Tables", "c ours against the published"),
}


def report_placement(name, download=None):
    """report()'s category and label of an entry (REPORT_ENTRIES); ``download``: the kind of a
    file offered for download (pdf, csv, md), listed in the last category. Entries with the same
    labels would show as one, so a download's label names its kind."""
    category, label = REPORT_ENTRIES[name]
    if download:
        category, label = "5. Downloads (PDF, CSV, Markdown)", f"{label} ({download})"
    return {"category": category, "labels": {"entry": label}}


def figure_output(name, ext):
    return report(
        f"{FIGURE_DIR}/{name}.{ext}",
        caption=f"../report/{name}.rst",
        **report_placement(name, download=None if ext == "png" else ext),
    )


def figure_outputs(name):
    return {"pdf": figure_output(name, "pdf"), "png": figure_output(name, "png")}


def apply_outputs(wildcards):
    if not config["apply"]["catalog"]:
        raise ValueError(
            "`snakemake apply` needs a catalogue: set apply.catalog to a .csv or .parquet file with ra and dec "
            "in degrees, e.g. --config apply='{catalog: galaxies.csv, name: galaxies}' "
            "or an apply: block in a --configfile"
        )
    return [APPLY.table, APPLY.csv]


def apply_catalog_file(wildcards):
    path = Path(config["apply"]["catalog"])
    if not path.is_file():
        raise FileNotFoundError(
            f"apply catalogue {path} (config apply.catalog) does not exist; "
            "give a .csv or .parquet file with ra and dec columns"
        )
    return str(path)
