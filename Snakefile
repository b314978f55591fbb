# Galaxy metallicity from three-colour SDSS images with CNNs (Wu & Boada 2019).
#
#   query/mock/local catalogue -> cutouts (shards) -> packed images -> splits
#   -> CNN training per target x bands x resolution x fold -> TTA predictions
#   -> fold ensembles -> baselines -> summary table, MMR analysis, figures, report
#
# Run: snakemake --cores all                       (config/config.yaml: the paper, real SDSS)
#      snakemake --configfile config/demo.yaml -c2 (the embedded mock survey, CPU, minutes)
#      snakemake --configfile config/local.yaml -c2 (your own catalogue and cutouts, survey: local)
#      snakemake --profile slurm                   (a SLURM GPU cluster)
#      snakemake bundle                            (pack what the figures need: results/bundle/)
#      snakemake export                            (portable model folders: results/export/)
#      snakemake apply --configfile new.yaml       (new galaxies, config `apply`: results/apply/)
#      snakemake --config bundle=<archive or URL>  (tables and figures from a bundle, no training)

from snakemake.utils import min_version, update_config, validate

from galcnn.pipeline import preflight
from galcnn.pipeline import workspace
from galcnn.config import bundle_settings, check_config, yaml_typed
from galcnn.pipeline.imports import add_code_digests
from galcnn.images import BANDS

min_version("9.0")


configfile: "config/config.yaml"


update_config(config, yaml_typed(dict(workflow.config_settings.config)))


validate(config, "config/schema.yaml", set_default=False)
check_config(config)
config["bundle"] = bundle_settings(config["bundle"])
# Before any job is planned: a run that would replace this folder's results (another
# configuration, a restore over a finished run) stops here (galcnn/pipeline/workspace.py). Jobs that
# Snakemake runs in their own process parse this file again; only the main process checks.
if workflow.is_main_process:
    workspace.check(config, workflow.overwrite_configfiles)


include: "rules/common.smk"


# With a results bundle (config `bundle`) the stages up to the predictions and baselines are
# left out: their outputs come from the bundle (rules/bundle.smk), so none of their jobs can run.
if not config["bundle"]["source"]:
    if config["survey"] == "mock":

        include: "rules/mock.smk"

    elif config["survey"] == "local":

        include: "rules/local.smk"

    else:

        include: "rules/query.smk"
        include: "rules/cutouts.smk"
    include: "rules/images.smk"
    include: "rules/splits.smk"
    include: "rules/train.smk"
    include: "rules/predict.smk"
    include: "rules/baselines.smk"


include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/calibration.smk"
include: "rules/export.smk"
include: "rules/apply.smk"
include: "rules/bundle.smk"
include: "rules/report.smk"


if config["reference"]["enabled"]:

    include: "rules/reference.smk"


# Each script rule gets a `code` param, a digest of the package modules its script imports:
# editing a galcnn/ module reruns exactly the rules that run it (galcnn/pipeline/imports.py).
add_code_digests(workflow.rules)


# Once jobs are about to run (not in a dry run), the folder records the run's configuration.
# Under the SLURM executor: every job's request against the cluster's nodes before anything
# is submitted (galcnn/pipeline/preflight.py); a job no node can run would otherwise pend forever.
onstart:
    preflight.check_workflow(workflow, CONFIG_RESOURCES)
    workspace.record_run(config, workflow.overwrite_configfiles)


report: "report/workflow.rst"


wildcard_constraints:
    target="|".join(config["targets"]),
    bands="|".join(BANDS),
    res=r"\d+",
    fold=r"\d+",
    shard=r"\d{3}",
    part=r"\d{3}",


localrules:
    all,


rule all:
    default_target: True
    input:
        rules.figures.input,
        rules.tables_html.input,
        SUMMARY_CSV,
        UNCERTAINTY_CSV,
        rules.figure_fig_calibration.output,
        [REFERENCE_COMPARISON] if reference_enabled() else [],
        casjobs_targets(),
