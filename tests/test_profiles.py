"""Every run, with or without a profile, limits the jobs that talk to SkyServer at once."""

import pytest
from snakemake.cli import parse_args


@pytest.mark.parametrize(
    "argv, limit",
    [
        (["--cores", "8"], 4),  # the README's plain real-SDSS command: profiles/default is loaded
        (["--profile", "slurm"], 4),  # the cluster profile keeps it
        (["--cores", "8", "--resources", "sdss_http=2"], 2),  # the command line wins
    ],
)
def test_every_run_limits_the_jobs_talking_to_skyserver(workflow_copy, monkeypatch, argv, limit):
    monkeypatch.chdir(workflow_copy)
    _, args = parse_args(argv)
    assert args.resources["sdss_http"].value == limit
    if "--profile" in argv:
        assert (
            args.executor == "slurm" and args.jobs == 100
        )  # the slurm profile's own settings still apply
