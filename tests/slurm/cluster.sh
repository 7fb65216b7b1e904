#!/usr/bin/env bash
# A single-node Slurm for the test suite, from Debian's packages (munge, slurmctld,
# slurmd), without accounting: partitions `cpu` (default) and `gpu` (no GPUs configured)
# on this machine. Needs root. Everything lives under $SLURM_TEST_DIR.
# Checked by hand on Debian 12 (Slurm 22.05.8) in a container: no cgroup.conf (22.05 has
# no "disabled" cgroup plugin; without the file slurmd starts), proctrack/linuxproc and
# task/none; slurmd's PMIx errors at start are harmless. Without accounting, sacct
# fails: snakemake-executor-plugin-slurm needs `slurm-status-command: squeue`.
# Not yet run by the test suite (issue 31).
#
#   tests/slurm/cluster.sh up      # install if needed, start, wait until the node is idle
#   tests/slurm/cluster.sh down    # cancel every job, stop the daemons
set -euo pipefail

DIR=${SLURM_TEST_DIR:-/tmp/istvt-slurm}
HOST=$(hostname -s)
CONF=/etc/slurm/slurm.conf

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq munge slurmctld slurmd slurm-client >/dev/null
}

write_conf() {
    local cpus mem
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    mkdir -p "$DIR"/{state,spool,log} /etc/slurm
    cat >"$CONF" <<CONF
ClusterName=istvt-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP
CONF
}

up() {
    install
    write_conf
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null || /usr/sbin/create-munge-key -f
    fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -i
    pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
    for _ in $(seq 60); do
        if sinfo -h -N -o "%T" 2>/dev/null | grep -qE "^(idle|mixed|allocated)"; then
            sinfo
            return 0
        fi
        sleep 1
    done
    echo "Slurm did not come up; logs in $DIR/log" >&2
    tail -n 20 "$DIR"/log/*.log >&2 || true
    return 1
}

down() {
    scancel --user=root 2>/dev/null || true
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
    pkill -x munged 2>/dev/null || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
