"""Cluster preflight: SLURM requests against sinfo's nodes, without a cluster."""

import pytest

from galcnn.pipeline.preflight import (
    ImpossibleRequest,
    Request,
    check_requests,
    impossible,
    job_requests,
    parse_minutes,
    parse_sinfo,
    plugin_partition_selector,
    request_of,
)

SINFO = """\
cpu01|cpu*|32|128000|(null)|2-00:00:00
cpu02|cpu*|64|256000|(null)|2-00:00:00
gpu01|gpu|16|64000+|gpu:a100:4(S:0-1)|12:00:00
"""
KEYS = {"train_cnn": "resources.train"}


def test_sinfo_lines_become_nodes():
    cpu01, cpu02, gpu01 = parse_sinfo(SINFO)
    assert (cpu01.partition, cpu01.default, cpu01.cpus, cpu01.mem_mb, cpu01.gpus) == (
        "cpu",
        True,
        32,
        128000,
        0,
    )
    assert (gpu01.partition, gpu01.default, gpu01.gpus, gpu01.gpu_models, gpu01.mem_mb) == (
        "gpu",
        False,
        4,
        {"a100"},
        64000,
    )
    assert cpu02.time_min == 2 * 24 * 60 and gpu01.time_min == 12 * 60


@pytest.mark.parametrize(
    "limit, minutes",
    [
        ("infinite", float("inf")),
        ("30", 30),
        ("1:30:00", 90),
        ("45:00", 45),
        ("1-02:00:00", 1560),
        ("1-12", 2160),  # days-hours: the clock after the day counts from hours
        ("1-12:30", 2190),
    ],
)
def test_time_limits_in_minutes(limit, minutes):
    assert parse_minutes(limit) == minutes


def test_request_follows_the_executor():
    # cpus_per_task wins over threads; GPUs from gpu or from gres; memory per CPU times CPUs.
    req = request_of(
        "train_cnn",
        8,
        {
            "cpus_per_task": 4,
            "mem_mb": 32000,
            "runtime": 120,
            "gpu": 1,
            "gpu_model": "a100",
            "slurm_partition": "gpu",
        },
    )
    assert req == Request("train_cnn", 4, 32000, 120, 1, "a100", "gpu")
    req = request_of(
        "predict_cnn", 2, {"mem_mb_per_cpu": 1000, "gres": "gpu:v100:2", "runtime": "2:00:00"}
    )
    assert (req.cpus, req.mem_mb, req.gpus, req.gpu_model, req.runtime_min, req.partition) == (
        2,
        2000,
        2,
        "v100",
        120,
        None,
    )


def test_requests_some_node_can_run_pass():
    nodes = parse_sinfo(SINFO)
    ok = [
        request_of("baselines_rf", 64, {"mem_mb": 4000, "runtime": 60}),  # the larger cpu node
        request_of(
            "train_cnn",
            8,
            {
                "mem_mb": 32000,
                "runtime": 120,
                "gpu": 1,
                "gpu_model": "a100",
                "slurm_partition": "gpu",
            },
        ),
    ]
    assert impossible(ok, nodes) == []


@pytest.mark.parametrize(
    "rule, threads, resources, shortfall",
    [
        ("baselines_rf", 128, {"mem_mb": 4000, "runtime": 60}, "128 CPUs > 64"),
        ("images_pack", 1, {"mem_mb": 500000, "runtime": 60}, "500000 MB > 256000 MB"),
        (
            "images_pack",
            1,
            {"mem_mb": 1000, "runtime": 5000},
            "5000 min > the partition's 2880 min",
        ),
        (
            "train_cnn",
            8,
            {"mem_mb": 1000, "runtime": 60, "gpu": 1},
            "1 GPU > 0",
        ),  # no partition: the default has no GPU
        (
            "train_cnn",
            8,
            {
                "mem_mb": 1000,
                "runtime": 60,
                "gpu": 1,
                "gpu_model": "h100",
                "slurm_partition": "gpu",
            },
            "no h100 GPU",
        ),
    ],
)
def test_impossible_requests_stop_naming_rule_request_largest_node_and_fix(
    rule, threads, resources, shortfall
):
    with pytest.raises(ImpossibleRequest) as err:
        check_requests([request_of(rule, threads, resources)], SINFO, KEYS)
    message = str(err.value)
    assert f"rule {rule} asks for {request_of(rule, threads, resources).describe()}" in message
    assert shortfall in message
    largest = (
        "gpu01: 16 CPUs"
        if resources.get("slurm_partition") == "gpu"
        else "cpu02: 64 CPUs, 256000 MB"
    )
    assert f"Largest node {largest}" in message
    assert (
        "--max-threads" in message
        and "set-resources" in message
        and "resources.train for train_cnn" in message
    )


def test_unknown_partition_is_named():
    problems = impossible(
        [request_of("train_cnn", 1, {"mem_mb": 1, "runtime": 1, "slurm_partition": "a100q"})],
        parse_sinfo(SINFO),
    )
    assert problems == [
        "rule train_cnn asks for partition 'a100q', which the cluster does not have (partitions: cpu, gpu)"
    ]


def test_a_list_of_partitions_needs_one_that_fits():
    nodes = parse_sinfo(SINFO)
    gpu_job = {"mem_mb": 1000, "runtime": 60, "gpu": 1}
    assert (
        impossible([request_of("train_cnn", 8, gpu_job | {"slurm_partition": "cpu,gpu"})], nodes)
        == []
    )
    assert (
        "no node there can run it"
        in impossible([request_of("train_cnn", 8, gpu_job | {"slurm_partition": "cpu"})], nodes)[0]
    )


def test_the_same_request_is_reported_once():
    req = request_of("baselines_rf", 128, {"mem_mb": 4000, "runtime": 60})
    assert len(impossible([req, req], parse_sinfo(SINFO))) == 1


def test_nothing_happens_without_the_slurm_executor():
    from types import SimpleNamespace

    from galcnn.pipeline.preflight import check_workflow

    # No DAG is looked at (the workflow has none): the check returns at once.
    check_workflow(SimpleNamespace(executor_plugin=SimpleNamespace(name="local")), KEYS)
    check_workflow(SimpleNamespace(executor_plugin=None), KEYS)


class Job:
    """What the preflight and the SLURM plugin read of a Snakemake job."""

    def __init__(self, rule, threads, **resources):
        self.rule = self
        self.name = rule
        self.threads = threads
        self.resources = _Resources(resources)
        self.is_local = False


class _Resources(dict):
    def __getattr__(self, key):
        return self[key]


PARTITIONS = """\
partitions:
  cpu: {max_runtime: 2880, max_mem_mb: 256000, max_cpus_per_task: 64}
  gpu: {max_runtime: 720, max_mem_mb: 64000, max_cpus_per_task: 16, max_gpu: 4, available_gpu_models: [a100]}
"""


class Log:
    def __init__(self):
        self.warnings = []

    def debug(self, msg):
        pass

    info = debug

    def warning(self, msg):
        self.warnings.append(msg)


def test_jobs_without_a_partition_follow_the_plugins_choice(tmp_path):
    """With --slurm-partition-config the plugin picks a partition per job: a GPU job goes to the
    GPU partition, so it must be checked there, not against the default CPU partition."""
    config = tmp_path / "partitions.yaml"
    config.write_text(PARTITIONS)
    log = Log()
    select = plugin_partition_selector(str(config), log)
    jobs = [
        Job("train_cnn", 8, mem_mb=32000, runtime=120, gpu=1, gpu_model="a100"),
        Job("baselines_rf", 4, mem_mb=4000, runtime=60),
        Job("predict_cnn", 8, mem_mb=16000, runtime=60, gpu=1, slurm_partition="cpu"),
    ]
    requests = job_requests(jobs, select, log)
    assert [r.partition for r in requests] == ["gpu", "cpu", "cpu"]
    # checked on the partition the plugin chose, the GPU job fits; on the default it would not
    assert impossible(requests[:1], parse_sinfo(SINFO)) == []
    default = job_requests(jobs[:1], None, log)
    assert "no node there can run it" in impossible(default, parse_sinfo(SINFO))[0]


def test_without_a_partition_config_the_default_partition_is_checked(monkeypatch):
    monkeypatch.delenv("SNAKEMAKE_SLURM_PARTITIONS", raising=False)
    assert plugin_partition_selector(None, Log()) is None


def test_a_failing_plugin_choice_skips_the_job_and_says_so():
    log = Log()

    def broken(job):
        raise AttributeError("no attribute 'resources'")

    requests = job_requests(
        [Job("train_cnn", 8, gpu=1), Job("x", 1, slurm_partition="cpu")], broken, log
    )
    assert [r.rule for r in requests] == ["x"]
    assert "not checked: train_cnn (no attribute 'resources')" in log.warnings[0]
