"""RMSE and NMAD of every CNN configuration and baseline -> summary CSV and Markdown."""

from galcnn import storage
from galcnn.summary import build_summary

storage.setup_logging(snakemake.log[0])

inp, params = snakemake.input, snakemake.params
build_summary(
    cnn_paths={
        (t, b, int(r)): (test, val)
        for (t, b, r), test, val in zip(params.cnn_keys, inp.cnn, inp.validation, strict=True)
    },
    baseline_paths={
        (m, t): path for (m, t), path in zip(params.baseline_keys, inp.baselines, strict=True)
    },
    mmr_path=inp.mmr[0] if inp.mmr else None,
    csv_path=snakemake.output.csv,
    md_path=snakemake.output.md,
    reference_status=inp.get("reference_status"),
    reference_paths=dict(zip(params.published, inp.get("reference", []), strict=True)),
    seed=params.seed,
    survey=params.survey,
    test_set=params.test_set,
)
