"""Cluster preflight: every job's SLURM request against what the cluster's nodes offer.

A job asking for more CPUs, memory, GPUs or time than any node of its partition has is
never started: SLURM keeps it PENDING (Reason=PartitionConfig) and Snakemake waits
without a word. Under the SLURM executor the run is therefore checked after the DAG is
built and before anything is submitted, against ``sinfo``; an impossible request stops it
naming the rule, its request, the largest node and the fix. A job without a partition is
checked against the one the SLURM plugin would choose for it (its ``--slurm-partition-config``),
else against the cluster's default partition.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: One line per node and partition: name|partition (default marked *)|CPUs|memory MB|GRES|time limit.
SINFO = ["sinfo", "-h", "-N", "-o", "%N|%P|%c|%m|%G|%l"]
UNLIMITED = float("inf")


def gpus(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


class ImpossibleRequest(RuntimeError):
    """A job asks for more than any node of its partition offers; the message says what to change."""


@dataclass(frozen=True)
class Node:
    name: str
    partition: str
    default: bool  # the cluster's default partition
    cpus: int
    mem_mb: int
    gpus: int
    gpu_models: frozenset[str]
    time_min: float  # the partition's time limit in minutes

    def describe(self) -> str:
        limit = (
            "no time limit" if self.time_min == UNLIMITED else f"time limit {self.time_min:g} min"
        )
        models = f" ({', '.join(sorted(self.gpu_models))})" if self.gpu_models else ""
        return (
            f"{self.name}: {self.cpus} CPUs, {self.mem_mb} MB, {gpus(self.gpus)}{models}, {limit}"
        )


@dataclass(frozen=True)
class Request:
    """What one job asks of SLURM, as the SLURM executor submits it."""

    rule: str
    cpus: int
    mem_mb: int
    runtime_min: float
    gpus: int
    gpu_model: str | None
    partition: str | None  # None: the default partition

    def describe(self) -> str:
        gpu = (
            f", {gpus(self.gpus)}" + (f" ({self.gpu_model})" if self.gpu_model else "")
            if self.gpus
            else ""
        )
        return f"{self.cpus} CPUs, {self.mem_mb} MB, {self.runtime_min:g} min{gpu}"

    def shortfalls(self, node: Node) -> list[str]:
        """What ``node`` lacks for this request (empty when it fits)."""
        out = []
        if self.cpus > node.cpus:
            out.append(f"{self.cpus} CPUs > {node.cpus}")
        if self.mem_mb > node.mem_mb:
            out.append(f"{self.mem_mb} MB > {node.mem_mb} MB")
        if self.gpus > node.gpus:
            out.append(f"{gpus(self.gpus)} > {node.gpus}")
        elif self.gpu_model and self.gpu_model not in node.gpu_models:
            out.append(f"no {self.gpu_model} GPU")
        if self.runtime_min > node.time_min:
            out.append(f"{self.runtime_min:g} min > the partition's {node.time_min:g} min")
        return out


def parse_minutes(limit: str) -> float:
    """A SLURM time limit ([days-]hours:minutes:seconds, minutes:seconds, or infinite) in minutes."""
    if limit.strip().lower() in ("infinite", "unlimited", "n/a"):
        return UNLIMITED
    days, _, clock = limit.strip().rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        h, m, s = parts + [0] * (3 - len(parts))
    else:  # minutes, minutes:seconds or hours:minutes:seconds
        h, m, s = [0] * (3 - len(parts)) + parts if len(parts) > 1 else (0, parts[0], 0)
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def parse_gres(gres: str) -> tuple[int, frozenset[str]]:
    """GPUs and GPU models of a node's GRES, e.g. ``gpu:a100:4(S:0-1),gpu:v100:2``."""
    total, models = 0, set()
    for item in gres.split(","):
        match = re.match(r"gpu(?::([^:(]+))?:(\d+)", item.strip())
        if match:
            total += int(match.group(2))
            if match.group(1):
                models.add(match.group(1))
    return total, frozenset(models)


def parse_sinfo(text: str) -> list[Node]:
    nodes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, partition, cpus, mem, gres, limit = (f.strip() for f in line.split("|"))
        n_gpus, models = parse_gres(gres)
        nodes.append(
            Node(
                name,
                partition.rstrip("*"),
                partition.endswith("*"),
                int(cpus),
                int(mem.rstrip("+")),
                n_gpus,
                models,
                parse_minutes(limit),
            )
        )
    return nodes


def request_of(rule: str, threads: int, resources: Mapping) -> Request:
    """The request of a job with ``threads`` and ``resources`` (its evaluated resources)."""
    n_gpus, model = int(resources.get("gpu") or 0), resources.get("gpu_model") or None
    if not n_gpus:
        n_gpus, models = parse_gres(str(resources.get("gres") or ""))
        model = next(iter(models), None)
    cpus = int(resources.get("cpus_per_task") or 0) or int(threads)
    if n_gpus and resources.get("cpus_per_gpu"):
        cpus = int(resources["cpus_per_gpu"]) * n_gpus
    mem = int(resources.get("mem_mb") or 0)
    if resources.get("mem_mb_per_cpu"):
        mem = int(resources["mem_mb_per_cpu"]) * cpus
    runtime = resources.get("runtime")
    runtime = parse_minutes(runtime) if isinstance(runtime, str) else float(runtime or 0)
    return Request(
        rule, cpus, mem, runtime, n_gpus, model, resources.get("slurm_partition") or None
    )


def impossible(requests: Iterable[Request], nodes: list[Node]) -> list[str]:
    """One line per distinct request that no node of its partition can satisfy."""
    default = (
        sorted({n.partition for n in nodes if n.default})
        or sorted({n.partition for n in nodes})[:1]
    )
    problems = []
    for req in sorted(set(requests), key=lambda r: r.rule):
        partition = req.partition or (default[0] if default else None)
        # sbatch -p takes a comma-separated list: the job runs in whichever can start it.
        members = [n for n in nodes if n.partition in str(partition).split(",")]
        if not members:
            known = sorted({n.partition for n in nodes})
            problems.append(
                f"rule {req.rule} asks for partition {partition!r}, which "
                f"the cluster does not have (partitions: {', '.join(known)})"
            )
            continue
        if any(not req.shortfalls(n) for n in members):
            continue
        largest = max(members, key=lambda n: (n.cpus, n.mem_mb, n.gpus, n.time_min))
        problems.append(
            f"rule {req.rule} asks for {req.describe()} on partition {partition}; no node there can run it. "
            f"Largest node {largest.describe()} ({'; '.join(req.shortfalls(largest))})"
        )
    return problems


def message(problems: list[str], config_keys: Mapping[str, str]) -> str:
    keys = ", ".join(f"{key} for {rule}" for rule, key in config_keys.items())
    return (
        "cluster preflight: nothing was submitted, since SLURM would keep these jobs PENDING forever:\n  "
        + "\n  ".join(problems)
        + "\nFix: cap every rule's threads with --max-threads N (N = the node's CPUs); or lower the rule's request in "
        "the profile's set-resources (e.g. set-resources: {RULE: {mem_mb: ..., runtime: ..., slurm_partition: ...}}) "
        f"or set-threads; for the GPU rules, the config's resources: ({keys})."
    )


def check_requests(
    requests: Iterable[Request], sinfo_text: str, config_keys: Mapping[str, str]
) -> None:
    problems = impossible(requests, parse_sinfo(sinfo_text))
    if problems:
        raise ImpossibleRequest(message(problems, config_keys))


def plugin_partition_selector(partition_config, logger) -> Callable | None:
    """The SLURM plugin's own choice of partition for a job without ``slurm_partition``
    (``--slurm-partition-config`` or ``SNAKEMAKE_SLURM_PARTITIONS``: a YAML file of partition
    limits), as a function job -> partition name or None (the plugin then uses the cluster's
    default partition); None when no such file is configured."""
    path = partition_config or os.environ.get("SNAKEMAKE_SLURM_PARTITIONS")
    if not path:
        return None
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    partitions = read_partition_file(Path(path))
    return lambda job: get_best_partition(partitions, job, logger)


def job_requests(jobs, select_partition: Callable | None, logger) -> list[Request]:
    """The requests of the jobs to submit. A job without ``slurm_partition`` is checked against
    the partition the plugin would choose for it (``select_partition``), else the default one;
    where the plugin's choice cannot be made here, the job is left out, with a warning."""
    requests, unchecked = [], []
    for job in jobs:
        req = request_of(job.rule.name, job.threads, job.resources)
        if req.partition is None and select_partition is not None:
            try:
                req = dataclasses.replace(req, partition=select_partition(job))
            except Exception as err:  # the plugin's API is not ours: never let it stop a run
                unchecked.append(f"{job.rule.name} ({err})")
                continue
        requests.append(req)
    if unchecked:
        logger.warning(
            "cluster preflight: the SLURM plugin's partition choice failed for "
            f"{len(unchecked)} jobs, which are not checked: {', '.join(sorted(set(unchecked)))}"
        )
    return requests


def check_workflow(workflow, config_keys: Mapping[str, str]) -> None:
    """Check every job the SLURM executor would submit; does nothing under any other executor."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    jobs = [job for job in workflow.dag.needrun_jobs() if not job.is_local]
    if not jobs:
        return
    from snakemake.logging import logger

    settings = getattr(workflow, "executor_settings", None)
    select = plugin_partition_selector(getattr(settings, "partition_config", None), logger)
    requests = job_requests(jobs, select, logger)
    try:
        proc = subprocess.run(SINFO, capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        logger.warning(f"cluster preflight skipped: `{' '.join(SINFO)}` failed ({err})")
        return
    check_requests(requests, proc.stdout, config_keys)
    logger.info(f"cluster preflight: the {len(requests)} jobs to submit fit the cluster's nodes")
