#!/usr/bin/env bash
# A real one-node SLURM cluster on this host, for the SLURM tests (and for trying the
# slurm executor on a workstation): munged, MariaDB + slurmdbd (job accounting, which
# `sacct`, and so submitit, reads job states from), slurmctld and slurmd, with every
# CPU and all the memory of this host in one partition, `debug`.
#
# Installs nothing: the Debian packages are slurm-wlm, slurmdbd, munge and
# mariadb-server (see .ci/run). Run it as root. It is idempotent: when `sinfo` already
# shows a node idle (or busy) and `sacct` answers, it does nothing; otherwise it starts
# what is not running. It writes /etc/slurm/slurm.conf and slurmdbd.conf, and refuses
# to overwrite ones it did not write.
#
# Usage: sudo bash scripts/slurm-single-node.sh         start (or check) the cluster
#        sudo bash scripts/slurm-single-node.sh stop    stop its daemons
set -euo pipefail

MARK="# written by atlasbench scripts/slurm-single-node.sh"
CONF_DIR=/etc/slurm
CLUSTER=atlasbench
LOGS=/var/log/slurm
DB_USER=slurm
DB_PASS=atlasbench-slurm

log() { echo "slurm-single-node: $*" >&2; }

die() {
    log "$*"
    for f in "$LOGS"/*.log; do
        [[ -f $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# wait_for SECONDS WHAT COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" > /dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not come up within ${seconds}s"
        sleep 0.2
    done
}

node_ready() {
    sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)' && sacct -n -X -S now > /dev/null 2>&1
}

running() { pgrep -x "$1" > /dev/null; }

write_conf() {  # write_conf FILE MODE: stdin to FILE, unless a foreign file is there
    local file=$1 mode=$2
    if [[ -e $file ]] && ! grep -qF "$MARK" "$file"; then
        die "$file exists and was not written by this script; not touching this host's SLURM"
    fi
    { echo "$MARK"; cat; } > "$file.tmp"
    chmod "$mode" "$file.tmp"
    mv "$file.tmp" "$file"
}

stop() {  # each daemon through its own client or pid file
    scontrol shutdown > /dev/null 2>&1 || true
    [[ -f /run/slurm/slurmdbd.pid ]] && kill "$(cat /run/slurm/slurmdbd.pid)" 2> /dev/null || true
    mariadb-admin shutdown > /dev/null 2>&1 || true
    [[ -f /run/munge/munged.pid ]] && kill "$(cat /run/munge/munged.pid)" 2> /dev/null || true
    log "stopped"
}

case ${1:-start} in
    start) ;;
    stop) stop; exit 0 ;;
    *) die "usage: $0 [start|stop]" ;;
esac
# Asking sinfo while our slurmctld is down waits for its timeout: look at the processes first.
if { ! grep -qsF "$MARK" "$CONF_DIR/slurm.conf" || { running slurmctld && running slurmd; }; } && node_ready; then
    log "SLURM is up: $(sinfo -h -o '%P %D node(s) %T' | head -n 1)"
    exit 0
fi
[[ $EUID -eq 0 ]] || die "run as root (it starts system daemons and writes $CONF_DIR)"
for tool in munged mungekey mariadbd slurmdbd slurmctld slurmd sinfo sacct sacctmgr; do
    command -v "$tool" > /dev/null || die "$tool not found; apt-get install slurm-wlm slurmdbd munge mariadb-server"
done
mkdir -p "$CONF_DIR" "$LOGS" /var/spool/slurmctld /var/spool/slurmd /run/slurm

# munge: the key the package made, else a new one
[[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
running munged || runuser -u munge -- munged
wait_for 20 munged bash -c 'munge -n | unmunge'

# MariaDB for slurmdbd
install -d -o mysql -g mysql -m 0755 /run/mysqld
[[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql > /dev/null
if ! running mariadbd; then
    setsid mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking=0 --bind-address=127.0.0.1 \
        --innodb-buffer-pool-size=64M >> "$LOGS/mariadb.log" 2>&1 < /dev/null &
fi
wait_for 60 MariaDB mariadb-admin ping
mariadb <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'localhost';
SQL

host=$(hostname -s)
node=$(slurmd -C | head -n 1)  # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
[[ $node =~ ^NodeName=.*\ CPUs=([0-9]+).*\ RealMemory=([0-9]+) ]] || die "slurmd -C did not describe this host: $node"
mem_per_cpu=$((BASH_REMATCH[2] / BASH_REMATCH[1]))  # a job that names no --mem gets this per CPU

write_conf "$CONF_DIR/slurmdbd.conf" 0600 <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONF

write_conf "$CONF_DIR/slurm.conf" 0644 <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# no systemd or cgroups in a container: processes tracked by parent pid, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$mem_per_cpu
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
ReturnToService=2
MinJobAge=300
# seconds from scancel's SIGTERM to its SIGKILL (at least 5 for a job step, whatever this says)
KillWait=1
InactiveLimit=0
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

running slurmdbd || slurmdbd
wait_for 60 slurmdbd bash -c "sacctmgr -n list cluster"
sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" > /dev/null
running slurmctld || slurmctld
wait_for 60 slurmctld scontrol ping
running slurmd || slurmd
wait_for 60 "the node $host (idle in sinfo)" node_ready
log "SLURM is up: $(sinfo -h -o '%P %D node(s) %T' | head -n 1)"
