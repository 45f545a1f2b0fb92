#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on 127.0.0.1, for `make test-slurm` and for trying the
# workflow/profiles/slurm profile without a real cluster (docs/SLURM.md).
#
#   scripts/slurm/local_cluster.sh start    install (apt) if missing, configure, start, wait for idle
#   scripts/slurm/local_cluster.sh stop     cancel jobs, stop the daemons this script started
#   scripts/slurm/local_cluster.sh status   daemons, sinfo, accounting
#
# Needs root on Debian/Ubuntu (apt-get). Runs the daemons directly (no systemd: works in containers).
# Job accounting is real: slurmdbd on a private MariaDB (own data directory, 127.0.0.1:3307), so
# `sacct` works and the executor plugin's default status polling (sacct) sees jobs finish.
# SLURM_LOCAL_ACCOUNTING=0 skips slurmdbd and MariaDB; then run snakemake with
# `--slurm-status-command squeue` (see docs/SLURM.md). Stop before switching between the two.
#
# Exit codes: 0 ok; 3 environment cannot host a cluster (not root, no apt, install failed, a foreign
# SLURM config/daemon is present); 1 the cluster was set up but did not come up (a real failure).
set -euo pipefail

CLUSTER=dnalens
PARTITION=debug
ACCOUNT=dnalens
MARKER="# written by dnalens scripts/slurm/local_cluster.sh"
CONF_DIR=/etc/slurm
STATE=/var/lib/dnalens-slurm          # all state, pid files and logs of this cluster
LOGS=$STATE/log
ACCOUNTING=${SLURM_LOCAL_ACCOUNTING:-1}
MEM_MARGIN_MB=${SLURM_LOCAL_MEM_MARGIN_MB:-1024}
DB_PASS=dnalens-local-only            # the private MariaDB listens on 127.0.0.1 only
PACKAGES=(munge slurmctld slurmd slurm-client)
ACCT_PACKAGES=(slurmdbd mariadb-server)

say() { printf '[local_cluster] %s\n' "$*" >&2; }
env_fail() { say "cannot host a cluster here: $*"; exit 3; }
fail() {
  say "error: $*"
  for f in "$LOGS"/*.log "$STATE"/mariadb/mariadb.log; do
    [ -f "$f" ] && { say "--- $f"; tail -n 20 "$f" >&2; }
  done
  exit 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local t=0
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1))
    [ "$t" -ge $((limit * 4)) ] && fail "timed out after ${limit}s waiting for $what"
    sleep 0.25
  done
}

install_packages() {
  local wanted=("${PACKAGES[@]}") missing=()
  [ "$ACCOUNTING" = 1 ] && wanted+=("${ACCT_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps the packages' own service start-up (systemd/init.d) out of the way.
  local had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ "$had_policy" = 1 ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    > "$STATE/apt.log" 2>&1 || rc=$?
  [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || { tail -n 20 "$STATE/apt.log" >&2; env_fail "apt-get install ${missing[*]} failed"; }
}

check_not_foreign() {
  if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARKER" "$CONF_DIR/slurm.conf"; then
    env_fail "$CONF_DIR/slurm.conf exists and was not written by this script; refusing to replace it"
  fi
  for d in slurmctld slurmd slurmdbd; do
    if pgrep -x "$d" >/dev/null && ! pid_alive "$STATE/$d.pid"; then
      env_fail "a $d not started by this script is running"
    fi
  done
}

node_memory_mb() {  # free -m, or the container's cgroup limit when lower, minus a margin
  local total limit
  total=$(free -m | awk '/^Mem:/ {print $2}')
  for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    limit=$(cat "$f" 2>/dev/null || true)
    if [[ "$limit" =~ ^[0-9]+$ ]] && [ $((limit / 1048576)) -lt "$total" ]; then total=$((limit / 1048576)); fi
  done
  echo $((total > 2 * MEM_MARGIN_MB ? total - MEM_MARGIN_MB : total / 2))
}

write_slurm_conf() {
  local node cpus mem
  node=$(hostname -s)
  cpus=$(nproc)
  mem=$(node_memory_mb)
  mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOGS"
  chown slurm:slurm "$STATE/ctld" "$LOGS"
  local conf=$CONF_DIR/slurm.conf.new
  cat > "$conf" <<EOF
$MARKER
# Single node on 127.0.0.1: $cpus CPUs (nproc), $mem MB (free -m or cgroup limit, minus ${MEM_MARGIN_MB} MB).
ClusterName=$CLUSTER
SlurmctldHost=$node(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups (containers): plain process tracking, memory limits via the accounting poller.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# Finished jobs stay visible to squeue for 5 min (squeue-based status polling needs that).
MinJobAge=300
InactiveLimit=0
# slurmd listens on 127.0.0.1 only (its NodeAddr); every RPC is munge-authenticated anyway.
CommunicationParameters=NoInAddrAny
KillWait=5
Waittime=0
EOF
  if [ "$ACCOUNTING" = 1 ]; then
    cat >> "$conf" <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobCompType=jobcomp/none
EOF
  else
    echo "AccountingStorageType=accounting_storage/none" >> "$conf"
  fi
  cat >> "$conf" <<EOF
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  chmod 644 "$conf"
  # Running daemons with another configuration: restart them with the new one.
  if ! cmp -s "$conf" "$CONF_DIR/slurm.conf"; then
    stop_pidfile "$STATE/slurmd.pid" slurmd
    stop_pidfile "$STATE/slurmctld.pid" slurmctld
  fi
  mv "$conf" "$CONF_DIR/slurm.conf"
}

start_munge() {  # reuses a running munged (then leaves it running on stop)
  pid_alive /run/munge/munged.pid && return 0
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  [ -s /etc/munge/munge.key ] || { runuser -u munge -- /usr/sbin/mungekey --create 2>/dev/null \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; }
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start"
  touch "$STATE/munged.ours"
  wait_for 10 munged sh -c 'munge -n | unmunge'
}

# A private MariaDB: own data directory, socket and port under $STATE, TCP on 127.0.0.1 only. The
# system database (/var/lib/mysql), if any, is never touched.
DB_DIR=$STATE/mariadb
DB_SOCK=$DB_DIR/mysqld.sock
DB_PORT=${SLURM_LOCAL_DB_PORT:-3307}
db() { mysql --socket="$DB_SOCK" "$@"; }

start_mariadb() {
  pid_alive "$DB_DIR/mariadb.pid" && return 0
  mkdir -p "$DB_DIR" && chown mysql:mysql "$DB_DIR"
  if [ ! -d "$DB_DIR/data/mysql" ]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR/data" \
      --auth-root-authentication-method=socket > "$DB_DIR/install.log" 2>&1 \
      || fail "mariadb-install-db failed (see $DB_DIR/install.log)"
  fi
  ( setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB_DIR/data" \
      --socket="$DB_SOCK" --bind-address=127.0.0.1 --port="$DB_PORT" --pid-file="$DB_DIR/mariadb.pid" \
      --log-error="$DB_DIR/mariadb.log" </dev/null >/dev/null 2>&1 & )
  wait_for 60 MariaDB mysqladmin --socket="$DB_SOCK" ping
  db <<EOF || fail "could not create the accounting database"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF
}

start_slurmdbd() {
  pid_alive "$STATE/slurmdbd.pid" && return 0
  cat > "$CONF_DIR/slurmdbd.conf" <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=$STATE/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASS
EOF
  chown slurm:slurm "$CONF_DIR/slurmdbd.conf" && chmod 600 "$CONF_DIR/slurmdbd.conf"
  /usr/sbin/slurmdbd || fail "slurmdbd did not start"
  wait_for 60 slurmdbd sacctmgr -n list cluster
  sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i -Q add account "$ACCOUNT" Description="dnalens local test" Organization=dnalens \
    >/dev/null 2>&1 || true
  sacctmgr -i -Q add user root DefaultAccount="$ACCOUNT" Account="$ACCOUNT" >/dev/null 2>&1 || true
}

node_idle() { sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; }

cmd_start() {
  [ "$(id -u)" = 0 ] || env_fail "needs root (apt-get and daemons)"
  command -v apt-get >/dev/null || env_fail "needs a Debian/Ubuntu system with apt-get"
  mkdir -p "$STATE" "$LOGS"
  check_not_foreign
  local t0=$SECONDS
  install_packages
  local t_install=$((SECONDS - t0))
  write_slurm_conf
  start_munge
  if [ "$ACCOUNTING" = 1 ]; then start_mariadb; start_slurmdbd; fi
  if ! pid_alive "$STATE/slurmctld.pid"; then
    /usr/sbin/slurmctld -c || fail "slurmctld did not start"   # -c: start with an empty queue
  fi
  wait_for 30 slurmctld scontrol ping
  if ! pid_alive "$STATE/slurmd.pid"; then
    /usr/sbin/slurmd || fail "slurmd did not start"
  fi
  wait_for 60 "node $(hostname -s) to be idle" node_idle
  local acct=none
  [ "$ACCOUNTING" = 1 ] && acct=slurmdbd+MariaDB
  say "up in $((SECONDS - t0)) s (install ${t_install} s); accounting: $acct"
  sinfo >&2
}

stop_pidfile() {  # stop_pidfile FILE NAME
  if pid_alive "$1"; then
    local pid; pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then say "$2 ($pid) did not stop; killing"; kill -9 "$pid" || true; fi
  fi
  rm -f "$1"
}

cmd_stop() {
  [ "$(id -u)" = 0 ] || { say "needs root"; exit 3; }
  if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARKER" "$CONF_DIR/slurm.conf"; then
    say "$CONF_DIR/slurm.conf is not ours; leaving everything alone"; exit 0
  fi
  pid_alive "$STATE/slurmctld.pid" && scancel --full --quiet --user=root 2>/dev/null || true
  stop_pidfile "$STATE/slurmd.pid" slurmd
  stop_pidfile "$STATE/slurmctld.pid" slurmctld
  stop_pidfile "$STATE/slurmdbd.pid" slurmdbd
  stop_pidfile "$DB_DIR/mariadb.pid" MariaDB
  if [ -f "$STATE/munged.ours" ]; then
    stop_pidfile /run/munge/munged.pid munged
    rm -f "$STATE/munged.ours"
  fi
  say "stopped"
}

cmd_status() {  # exit 0 only when the controller answers and the node takes jobs
  for f in slurmctld slurmd slurmdbd mariadb/mariadb; do
    local d=${f#*/}
    if pid_alive "$STATE/$f.pid"; then echo "$d: running (pid $(cat "$STATE/$f.pid"))"
    else echo "$d: stopped"; fi
  done
  if pid_alive /run/munge/munged.pid; then echo "munged: running"; else echo "munged: stopped"; fi
  if ! scontrol ping >/dev/null 2>&1; then echo "controller: not reachable"; return 1; fi
  sinfo -N -o '%N %T %c %m'
  scontrol show config | awk '$1 == "AccountingStorageType" || $1 == "MinJobAge"'
  sinfo -h -N -o '%T' | grep -qxE 'idle|mixed|allocated'
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status   (env: SLURM_LOCAL_ACCOUNTING=0|1)" >&2; exit 2 ;;
esac
