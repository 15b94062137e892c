#!/usr/bin/env bash
# scripts/local-slurm.sh start|stop|status - a one-node SLURM cluster on this Debian machine, for tests and CI.
#
#   start   installs slurm-wlm and munge with apt-get when a binary is missing, writes /etc/slurm/slurm.conf and
#           gres.conf for one node called "localhost" (this machine's CPUs as `slurmd -C` reports them, 90 % of
#           its memory, one fake GPU backed by /dev/null, partition "debug"), starts munged, slurmctld and slurmd
#           as plain daemons (no systemd) and waits until `sinfo` reports the node idle. Running it again while
#           the cluster is up only checks it; a changed config restarts slurmctld and slurmd.
#   stop    cancels every job, then stops slurmd, slurmctld and (if start launched it) munged, each by the pid in
#           its pid file, never by name. Exit 1 if a SLURM daemon or job step survives.
#   status  prints the daemons' pids and `sinfo`; exit 0 only when the node is idle/mixed/allocated.
#
# Must run as root. Knobs: LOCAL_SLURM_PARTITION (default debug), LOCAL_SLURM_GPUS (0 or 1, default 1).
# Choices that matter to the prunelab workflow (and why):
#   - no accounting database, so job status comes from squeue; MinJobAge=300 keeps finished jobs in squeue
#     long enough for the Snakemake SLURM plugin to see them finish;
#   - DefMemPerCPU=1024, because with CR_Core_Memory a job that asks for no memory would otherwise take the
#     whole node and serialise everything;
#   - gres.conf names a File= for the GPU: a count alone registers 0 GPUs and the node turns INVAL.
# Logs: /var/log/slurm/{slurmctld,slurmd}.log.
set -euo pipefail

PARTITION=${LOCAL_SLURM_PARTITION:-debug}
GPUS=${LOCAL_SLURM_GPUS:-1}
NODE=localhost
RUN_DIR=/run/prunelab-slurm
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
CTLD_SPOOL=/var/lib/slurm/slurmctld
D_SPOOL=/var/lib/slurm/slurmd
MUNGE_PID=/run/munge/munged.pid
OURS_MUNGE=$RUN_DIR/munged.ours
t0=$(date +%s)

say() { echo "[local-slurm +$(($(date +%s) - t0))s] $*"; }
die() { echo "local-slurm.sh: $*" >&2; exit 1; }
die_with_logs() {
  local file
  for file in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
    [[ -r $file ]] && { echo "--- tail of $file" >&2; tail -n 10 "$file" >&2; }
  done
  die "$*"
}

# live_pid PIDFILE NAME: print the pid recorded in PIDFILE if that process is alive (not a zombie) and is NAME
live_pid() {
  local pid state
  [[ -s $1 ]] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [[ -n $pid && -r /proc/$pid/stat && $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]] || return 1
  state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null)
  [[ $state != Z ]] || return 1
  echo "$pid"
}

# within SECONDS WHAT COMMAND...: retry COMMAND every second until it succeeds, or fail naming WHAT
within() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || die_with_logs "no $what after ${seconds}s"
    sleep 1
  done
}

node_state() { timeout 15 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
node_ready() { [[ $(node_state) =~ ^(idle|mixed|allocated)$ ]]; }
show_partition() { timeout 15 sinfo -h -o 'partition %P %a: %D node(s) %T, %c CPUs, %m MB, gres %G'; }
controller_up() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

install_packages() {
  local binary missing=0 apt_log
  for binary in munged slurmctld slurmd sinfo sbatch squeue scontrol scancel; do
    command -v "$binary" >/dev/null 2>&1 || missing=1
  done
  ((missing)) || return 0
  command -v apt-get >/dev/null || die "slurm-wlm/munge missing and no apt-get to install them (Debian only)"
  say "installing slurm-wlm and munge with apt-get"
  apt_log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -qq --no-install-recommends slurm-wlm munge >"$apt_log" 2>&1; then
    timeout 300 apt-get update -qq >>"$apt_log" 2>&1 \
      && timeout 600 apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$apt_log" 2>&1 \
      || die "apt-get install slurm-wlm munge failed: $(tail -n 1 "$apt_log")"
  fi
  rm -f "$apt_log"
}

start_munge() {
  install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
  install -d -o munge -g munge -m 0711 /var/lib/munge
  install -d -o munge -g munge -m 0755 /run/munge
  [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  if ! live_pid "$MUNGE_PID" munged >/dev/null; then
    rm -f "$MUNGE_PID" /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" || die "munged did not start (/var/log/munge/munged.log)"
    touch "$OURS_MUNGE"
  fi
  within 20 "munge credential round trip" munge_works
}

# write_config FILE CONTENT: replace FILE when CONTENT differs; return 0 if it changed
write_config() {
  if [[ -f $1 ]] && [[ $(cat "$1") == "$2" ]]; then return 1; fi
  { printf '%s\n' "$2" >"$1.new" && mv "$1.new" "$1"; } || die "cannot write $1"
}

# configure: write slurm.conf and gres.conf; CONFIG_CHANGED=1 when either file changed
configure() {
  local hardware cpus sockets cores threads memory gres_line="" gres_types="" gres_file=""
  CONFIG_CHANGED=0
  hardware=$(slurmd -C | head -n 1)
  field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hardware"; }
  cpus=$(field CPUs) sockets=$(field SocketsPerBoard) cores=$(field CoresPerSocket)
  threads=$(field ThreadsPerCore) memory=$(field RealMemory)
  [[ -n $cpus && -n $memory ]] || die "cannot read CPUs/RealMemory from 'slurmd -C': $hardware"
  memory=$((memory * 9 / 10))
  case $GPUS in
    0) ;;
    1) gres_types=GresTypes=gpu gres_line=" Gres=gpu:1" gres_file="NodeName=$NODE Name=gpu File=/dev/null" ;;
    *) die "LOCAL_SLURM_GPUS must be 0 or 1 (got '$GPUS')" ;;
  esac
  install -d -m 0755 "$CONF_DIR"
  write_config "$CONF_DIR/slurm.conf" "# written by prunelab scripts/local-slurm.sh: one-node test cluster
ClusterName=prunelab-local
SlurmctldHost=$NODE
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$D_SPOOL
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
ReturnToService=2
InactiveLimit=0
KillWait=10
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory$gres_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP" && CONFIG_CHANGED=1
  write_config "$CONF_DIR/gres.conf" "# written by prunelab scripts/local-slurm.sh: a fake GPU, no device behind it
$gres_file" && CONFIG_CHANGED=1
  install -d -o slurm -g slurm -m 0755 "$LOG_DIR" "$CTLD_SPOOL"
  install -d -m 0755 "$D_SPOOL"
  chown slurm:slurm "$RUN_DIR"
}

# stop_pid NAME PIDFILE: SIGTERM the recorded pid, SIGKILL after 20 s
stop_pid() {
  local pid
  if pid=$(live_pid "$2" "$1"); then
    say "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! timeout 20 tail --pid="$pid" -f /dev/null; then
      say "$1 ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      timeout 5 tail --pid="$pid" -f /dev/null || true
    fi
  fi
  rm -f "$2"
}

stop_slurm_daemons() {
  local jobs
  if live_pid "$RUN_DIR/slurmctld.pid" slurmctld >/dev/null && controller_up; then
    jobs=$(timeout 10 squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      say "cancelling jobs $jobs"
      # shellcheck disable=SC2086
      timeout 20 scancel $jobs 2>/dev/null || true
      # job steps must end before slurmd goes, or they outlive it
      # shellcheck disable=SC2016  # $(...) is for the inner shell
      timeout 60 bash -c 'while [[ -n $(squeue -h -t R,CG -o %A 2>/dev/null) ]]; do sleep 1; done' \
        || say "jobs still running after 60 s: $(squeue -h 2>/dev/null | tr '\n' ';')"
    fi
  fi
  stop_pid slurmd "$RUN_DIR/slurmd.pid"
  stop_pid slurmctld "$RUN_DIR/slurmctld.pid"
}

start() {
  install_packages
  install -d -m 0755 "$RUN_DIR"
  start_munge
  configure
  if ((CONFIG_CHANGED)) && { live_pid "$RUN_DIR/slurmctld.pid" slurmctld || live_pid "$RUN_DIR/slurmd.pid" slurmd; } >/dev/null; then
    say "the configuration changed: restarting slurmctld and slurmd"
    stop_slurm_daemons
  fi
  if ! live_pid "$RUN_DIR/slurmctld.pid" slurmctld >/dev/null; then
    say "starting slurmctld"
    /usr/sbin/slurmctld -c -i || die_with_logs "slurmctld did not start"  # -c: forget jobs of earlier runs
  fi
  within 30 "answer from slurmctld (scontrol ping)" controller_up
  if ! live_pid "$RUN_DIR/slurmd.pid" slurmd >/dev/null; then
    say "starting slurmd"
    /usr/sbin/slurmd -N "$NODE" || die_with_logs "slurmd did not start"  # the hostname is not "localhost"
  fi
  local deadline=$(($(date +%s) + 60)) state
  until node_ready; do
    state=$(node_state || true)
    case $state in
      inval*) die_with_logs "node $NODE is INVALID: $(sinfo -h -N -n "$NODE" -o '%E')" ;;
      *drain* | *down*) timeout 15 scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    (($(date +%s) < deadline)) || die_with_logs "node $NODE is '${state:-unknown}', not idle after 60 s"
    sleep 1
  done
  show_partition
  say "SLURM is up: node $NODE $(node_state) in partition $PARTITION (stop: scripts/local-slurm.sh stop)"
}

stop() {
  stop_slurm_daemons
  if [[ -e $OURS_MUNGE ]]; then
    stop_pid munged "$MUNGE_PID"
    rm -f "$OURS_MUNGE"
  fi
  local left
  left=$(ps -eo pid=,comm= | awk '$2 == "slurmctld" || $2 == "slurmd" || $2 == "slurmstepd" {print $1 "(" $2 ")"}' | tr '\n' ' ')
  [[ -z $left ]] || die "still running after stop: $left"
  say "stopped: no SLURM daemon left"
}

status() {
  local name pid pidfile
  for name in munged slurmctld slurmd; do
    if [[ $name == munged ]]; then pidfile=$MUNGE_PID; else pidfile=$RUN_DIR/$name.pid; fi
    pid=$(live_pid "$pidfile" "$name" || true)
    if [[ -n $pid ]]; then echo "$name: running (pid $pid)"; else echo "$name: not running"; fi
  done
  controller_up || die "no slurmctld answers (scripts/local-slurm.sh start starts the cluster)"
  show_partition
  node_ready || die "node $NODE is not ready (state '$(node_state || true)')"
  echo "node $NODE: $(node_state)"
}

[[ $# -eq 1 && $1 =~ ^(start|stop|status)$ ]] || die "usage: scripts/local-slurm.sh start|stop|status"
[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts system daemons)"
"$1"
