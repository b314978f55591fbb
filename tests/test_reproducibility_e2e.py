"""`reproducibility: portable` gives the same bits whatever kernels the machine offers; `native` does not;
the README's results block is made from a run's files.

One fold's model of the tiny run is retrained and predicted again (2 jobs per run, the rest of
the finished run reused) with and without an outside cap of the kernels at AVX2, the level a
machine without AVX-512 runs: in portable mode the predictions are bit-identical, in native mode
they differ where the machine offers more than AVX2.
"""

import json

import pandas as pd
import pytest
import torch
from conftest import REPO, TINY, copy_finished, snakemake

from galcnn.paths import MODEL_CONFIG, MODEL_PREDICTIONS, README_RESULTS, SUMMARY_CSV
from galcnn.report import readme

pytestmark = pytest.mark.e2e

FOLD = {"target": "oh_p50", "bands": "gri", "res": 4, "fold": 0}
PREDICTIONS = MODEL_PREDICTIONS.format(**FOLD)
#: What a machine with AVX2 and no AVX-512 runs, imposed from outside.
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def retrained(tiny_run, dest, mode, env=None):
    """The fold's predictions (and config.json) after retraining it in ``mode`` in a copy of the run."""
    run = copy_finished(tiny_run, dest)
    snakemake(
        run,
        PREDICTIONS,
        "--cores",
        "2",
        "--configfile",
        str(TINY.relative_to(REPO)),
        "--config",
        f"reproducibility={mode}",
        # --forcerun takes every word after it as a rule name: it comes last, the target first.
        "--forcerun",
        "train_cnn",
        env=env,
    )
    return pd.read_parquet(run / PREDICTIONS), json.loads(
        (run / MODEL_CONFIG.format(**FOLD)).read_text()
    )


def test_portable_mode_gives_the_same_bits_under_a_kernel_cap(tiny_run, tmp_path):
    free, free_config = retrained(tiny_run, tmp_path / "free", "portable")
    capped, capped_config = retrained(tiny_run, tmp_path / "capped", "portable", AVX2_ONLY)
    pd.testing.assert_frame_equal(free, capped, check_exact=True)
    for config in (free_config, capped_config):
        record = config["reproducibility"]
        assert record["mode"] == "portable" and record["deterministic_algorithms"]
        assert record["environment"]["ATEN_CPU_CAPABILITY"] == "avx2"
        assert record["intra_op_threads"] == 1 and "torch" in record["versions"]


def test_native_mode_differs_under_a_kernel_cap_where_the_cpu_offers_more(tiny_run, tmp_path):
    best = torch.backends.cpu.get_cpu_capability()
    if best != "AVX512":
        pytest.skip(f"this CPU's best kernels are {best}: an AVX2 cap changes nothing to compare")
    capped, config = retrained(tiny_run, tmp_path / "capped", "native", AVX2_ONLY)
    assert config["reproducibility"]["cpu_capability"] == "AVX2"
    native = pd.read_parquet(tiny_run / PREDICTIONS)
    assert (capped["pred"] != native["pred"]).any()


def test_the_readme_block_is_made_from_the_runs_summary(tiny_run, tmp_path):
    run = copy_finished(tiny_run, tmp_path / "wf")
    snakemake(run, "--cores", "1", "readme_results", "--configfile", str(TINY.relative_to(REPO)))
    block = (run / README_RESULTS).read_text()
    summary = pd.read_csv(run / SUMMARY_CSV)
    head = summary[(summary["variant"] == "ensemble") & (summary["resolution"] == 4)].iloc[0]
    assert f"fold ensemble RMSE {head['rmse']:.4f} at 4 px" in block
    assert "`reproducibility: native` mode" in block
    spliced = readme.splice((REPO / "README.md").read_text(), block)
    assert block.strip() in spliced
