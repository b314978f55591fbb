"""Cluster preflight: SLURM requests against sinfo's nodes, without a cluster."""

import pytest

from galcnn.preflight import (
    ImpossibleRequest,
    Request,
    check_requests,
    impossible,
    parse_minutes,
    parse_sinfo,
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

    from galcnn.preflight import check_workflow

    # No DAG is looked at (the workflow has none): the check returns at once.
    check_workflow(SimpleNamespace(executor_plugin=SimpleNamespace(name="local")), KEYS)
    check_workflow(SimpleNamespace(executor_plugin=None), KEYS)
