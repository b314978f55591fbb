#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on localhost for tests/test_slurm.py.
# Run as root; safe to run again (reinstalls nothing, restarts the daemons on a fresh config).
# The Debian packages cannot start their services here (no systemd), so the daemons are started
# by hand with PID files under /run; tests/slurm/stop.sh stops them by those PIDs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF_DIR=/etc/slurm
STATE=/var/lib/slurm
LOG=/var/log/slurm
RUN=/run/slurm

if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: must run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

"$HERE/stop.sh"

# ---- munge: the key the Debian package generated, daemon as the munge user ----
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
# A munged that stop.sh does not know (started by the package or the host) is kept.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
fi
munge -n | unmunge >/dev/null

# ---- slurm.conf: this machine's topology and memory (slurmd -C), 10% memory held back ----
install -d -m 0755 "$CONF_DIR" "$STATE/slurmctld" "$STATE/slurmd" "$LOG" "$RUN"
topo="$(slurmd -C | head -n1)"
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$topo"; }
mem=$(( $(field RealMemory) * 9 / 10 ))
sed -e "s|@STATE@|$STATE|g; s|@LOG@|$LOG|g; s|@RUN@|$RUN|g" \
    -e "s|@CPUS@|$(field CPUs)|; s|@SOCKETS@|$(field SocketsPerBoard)|" \
    -e "s|@CORES@|$(field CoresPerSocket)|; s|@THREADS@|$(field ThreadsPerCore)|; s|@MEM@|$mem|" \
    "$HERE/slurm.conf.in" >"$CONF_DIR/slurm.conf"
cp "$HERE/gres.conf" "$CONF_DIR/gres.conf"
printf 'ConstrainCores=no\nConstrainRAMSpace=no\n' >"$CONF_DIR/cgroup.conf"

# -c: start from a clean job state, so an old run's jobs never linger.
slurmctld -c
for _ in $(seq 30); do scontrol ping >/dev/null 2>&1 && break; sleep 1; done
scontrol ping | grep -q UP || { echo "setup.sh: slurmctld did not start; see $LOG/slurmctld.log" >&2; exit 1; }
slurmd -N localhost

for _ in $(seq 60); do
    state="$(sinfo -h -N -n localhost -o %T 2>/dev/null || true)"
    case "$state" in
        idle*|mixed*|allocated*) break ;;
        down*|drain*|unknown*) scontrol update NodeName=localhost State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
sinfo -N -o "%N %T %c %m %G"
if ! sinfo -h -N -n localhost -o %T | grep -qE '^(idle|mixed|allocated)'; then
    echo "setup.sh: node localhost did not become idle; see $LOG/slurmctld.log and $LOG/slurmd.log" >&2
    exit 1
fi
# A job through the whole path (munge, slurmctld, slurmd, srun) before the tests rely on it.
srun -N1 -n1 -t 1 --mem=100 true
echo "setup.sh: SLURM is up (logs in $LOG)"
