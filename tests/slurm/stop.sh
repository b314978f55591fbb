#!/usr/bin/env bash
# Stop the daemons started by tests/slurm/setup.sh, by the PIDs in their PID files.
set -uo pipefail

stop_pid_file() {
    local pid_file=$1 pid
    [[ -s $pid_file ]] || return 0
    pid=$(<"$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pid_file"
}

stop_pid_file /run/slurm/slurmd.pid
stop_pid_file /run/slurm/slurmctld.pid
stop_pid_file /run/munge/munged.pid
