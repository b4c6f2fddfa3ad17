#!/usr/bin/env bash
# A real one-node Slurm cluster ("lassi-test") for the slurm test tier and CI.
#
#   bash scripts/test-slurm.sh start    install (apt) where missing, configure, start, wait until usable
#   bash scripts/test-slurm.sh stop     stop both daemons by their pid files
#   bash scripts/test-slurm.sh status   print sinfo; exit 1 unless the node is usable
#
# start is idempotent: a healthy cluster with an unchanged config is left running. The node is
# this host; it declares 16 CPUs, 16000 MB and four fake GPUs (gpu:a100:2 on /dev/fakegpu0-1,
# gpu:mi100:2 on /dev/fakegpu2-3, dummy character devices), in partitions a100, mi100, llm and
# debug (the default). It owns /etc/slurm/{slurm,gres}.conf, $STATE_DIR and $LOG_DIR; both
# daemons run as root with AuthType=auth/none, so it is for test machines only.
# Needs root or passwordless sudo; without either it says what to do and exits 0, and the slurm
# tests skip (or fail under CI=true).
set -euo pipefail

CONF_DIR=/etc/slurm
RUN_DIR=/run/slurm
STATE_DIR=/var/spool/slurm-lassi-test
LOG_DIR=/var/log/slurm-lassi-test
CTLD_PID_FILE=$RUN_DIR/slurmctld.pid
SLURMD_PID_FILE=$RUN_DIR/slurmd.pid
CTLD_LOG=$LOG_DIR/slurmctld.log
SLURMD_LOG=$LOG_DIR/slurmd.log
PACKAGES=(slurmctld slurmd slurm-client)
PARTITIONS=(a100 mi100 llm debug)
STARTUP_TIMEOUT_S=60
# Debian keeps the daemons in /usr/sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "test-slurm: $*" >&2; }

die() {
  say "$*"
  exit 1
}

usage() {
  echo "usage: bash scripts/test-slurm.sh start|stop|status" >&2
  exit 2
}

node_name() { hostname -s; }

# Re-runs this script through sudo when not root; returns only when already root.
become_root() {
  if [ "$(id -u)" -eq 0 ]; then
    return 0
  fi
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n bash "$0" "$@"
  fi
  say "needs root or passwordless sudo: run \`sudo bash scripts/test-slurm.sh $1\` yourself"
  exit 0
}

package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    package_installed "$package" || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  say "installing ${missing[*]} (apt)"
  # The packages' init scripts would start the daemons before there is a config, and a failed
  # start fails the install: a policy-rc.d that forbids starts (exit 101) prevents that.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local status=0
  {
    apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  } || status=$?
  if [ "$added_policy" -eq 1 ]; then
    rm -f "$policy"
  fi
  [ "$status" -eq 0 ] || die "apt-get failed (exit $status) installing ${missing[*]}"
}

ensure_host_resolves() {
  local host
  host=$(node_name)
  if ! getent hosts "$host" >/dev/null; then
    say "adding $host to /etc/hosts (it does not resolve)"
    echo "127.0.0.1 $host" >>/etc/hosts
  fi
}

# Slurm drops GPUs without a device file and then drains the node for the count mismatch, so
# each fake GPU is a dummy character device (the same numbers as /dev/null).
make_fake_gpus() {
  local index device
  for index in 0 1 2 3; do
    device=/dev/fakegpu$index
    if [ -e "$device" ] && [ ! -c "$device" ]; then
      rm -f "$device"
    fi
    if [ ! -e "$device" ]; then
      mknod "$device" c 1 3
      chmod 666 "$device"
    fi
  done
}

render_slurm_conf() {
  local host=$1 partition
  cat <<EOF
# Written by scripts/test-slurm.sh (lassi_hpc's one-node test cluster); rewritten on each start.
ClusterName=lassi-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Without it, slurmctld logs an error at each start (there is no mail on a test machine).
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The node declares more CPUs and memory than the machine has, so that several blocks, an LLM
# block and a driver job fit at once; config_overrides keeps slurmd from draining it for that.
SlurmdParameters=config_overrides
ReturnToService=2
# Finished jobs stay visible to \`scontrol show job\` for 10 minutes.
MinJobAge=600
KillWait=5
InactiveLimit=0
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$CTLD_PID_FILE
SlurmdPidFile=$SLURMD_PID_FILE
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
GresTypes=gpu
NodeName=$host CPUs=16 RealMemory=16000 Gres=gpu:a100:2,gpu:mi100:2 State=UNKNOWN
EOF
  for partition in "${PARTITIONS[@]}"; do
    local default=NO
    [ "$partition" = debug ] && default=YES
    echo "PartitionName=$partition Nodes=$host Default=$default MaxTime=02:00:00 State=UP"
  done
}

render_gres_conf() {
  local host=$1
  # Without Flags=, Slurm sets every vendor's variable (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
  # GPU_DEVICE_ORDINAL, ZE_AFFINITY_MASK) for both types: slurmd refuses different env flags for
  # GPUs of one node, so the a100 and mi100 types cannot have nvidia_gpu_env and amd_gpu_env.
  cat <<EOF
# Written by scripts/test-slurm.sh: fake GPUs on dummy character devices (see make_fake_gpus).
AutoDetect=off
NodeName=$host Name=gpu Type=a100 File=/dev/fakegpu[0-1]
NodeName=$host Name=gpu Type=mi100 File=/dev/fakegpu[2-3]
EOF
}

# Writes the config files; succeeds (0) when either of them changed.
write_config() {
  local host=$1 changed=1 rendered
  mkdir -p "$CONF_DIR"
  rendered=$(mktemp)
  render_slurm_conf "$host" >"$rendered"
  if ! cmp -s "$rendered" "$CONF_DIR/slurm.conf"; then
    install -m 644 "$rendered" "$CONF_DIR/slurm.conf"
    changed=0
  fi
  render_gres_conf "$host" >"$rendered"
  if ! cmp -s "$rendered" "$CONF_DIR/gres.conf"; then
    install -m 644 "$rendered" "$CONF_DIR/gres.conf"
    changed=0
  fi
  rm -f "$rendered"
  return "$changed"
}

# Whether `pid` is a live `daemon`. PID 1 here may not reap orphans, so a stopped daemon can
# linger as a zombie that `kill -0` still finds; a recycled pid would be another program.
pid_alive() {
  local pid=$1 daemon=$2
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

# Prints the pid in a daemon's pid file when that daemon is alive.
live_pid() {
  local pid_file=$1 daemon=$2 pid
  [ -r "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' <"$pid_file")
  [ -n "$pid" ] && pid_alive "$pid" "$daemon" || return 1
  echo "$pid"
}

stop_daemon() {
  local pid_file=$1 daemon=$2 pid waited=0
  if ! pid=$(live_pid "$pid_file" "$daemon"); then
    rm -f "$pid_file"
    return 0
  fi
  say "stopping $daemon (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  # The daemon removes its pid file before it has exited: follow the pid itself.
  while pid_alive "$pid" "$daemon" && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if pid_alive "$pid" "$daemon"; then
    say "$daemon (pid $pid) ignored SIGTERM for 10 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

show_log_tails() {
  local log
  for log in "$CTLD_LOG" "$SLURMD_LOG"; do
    if [ -r "$log" ]; then
      echo "---- last lines of $log" >&2
      tail -n 20 "$log" >&2
    fi
  done
}

fail_startup() {
  say "$*"
  show_log_tails
  exit 1
}

ctld_answers() {
  scontrol ping 2>/dev/null | grep -q 'is UP'
}

clear_state() {
  say "clearing the saved Slurm state in $STATE_DIR"
  rm -rf "${STATE_DIR:?}/slurmctld" "${STATE_DIR:?}/slurmd"
  mkdir -p "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
}

# Starts slurmctld; waits until it answers or dies, for at most `timeout_s` seconds.
launch_ctld() {
  local timeout_s=$1 started_at=$SECONDS
  slurmctld || return 1
  while [ $((SECONDS - started_at)) -lt "$timeout_s" ]; do
    ctld_answers && return 0
    # Its pid file appears once it has daemonised; after that, no live process means it died.
    if [ $((SECONDS - started_at)) -ge 3 ] && ! live_pid "$CTLD_PID_FILE" slurmctld >/dev/null; then
      return 1
    fi
    sleep 0.5
  done
  return 1
}

start_ctld() {
  say "starting slurmctld (log: $CTLD_LOG)"
  if launch_ctld 20; then
    return 0
  fi
  # A state file from an older config, or one torn by a kill, can keep slurmctld from starting.
  stop_daemon "$CTLD_PID_FILE" slurmctld
  say "slurmctld did not come up with its saved state: retrying from a clean state"
  clear_state
  launch_ctld 20 || fail_startup "slurmctld did not come up, even from a clean state"
}

start_slurmd() {
  say "starting slurmd (log: $SLURMD_LOG)"
  slurmd || fail_startup "slurmd failed to start"
}

node_state() {
  sinfo -h -N -n "$(node_name)" -o %T 2>/dev/null | head -n 1
}

# Node states in which jobs start; a trailing * (not responding) or any drain/down is unusable.
node_usable() {
  case "$1" in
  idle | mixed | allocated | completing) return 0 ;;
  *) return 1 ;;
  esac
}

wait_until_usable() {
  local host=$1 deadline state resumed_at=-10
  deadline=$((SECONDS + STARTUP_TIMEOUT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(node_state)
    if node_usable "$state"; then
      say "node $host is $state; partitions: $(sinfo -h -o %P | tr -d '*' | tr '\n' ' ')"
      return 0
    fi
    # A drain (from an earlier GPU mismatch, say) survives restarts: lift it, every few seconds.
    case "$state" in
    *drain* | down*)
      if [ $((SECONDS - resumed_at)) -ge 5 ]; then
        say "node $host is $state: resuming it"
        scontrol update NodeName="$host" State=RESUME 2>/dev/null || true
        resumed_at=$SECONDS
      fi
      ;;
    esac
    sleep 0.5
  done
  fail_startup "node $host is not usable after ${STARTUP_TIMEOUT_S} s (state: ${state:-none})" \
    "$(scontrol show node "$host" 2>/dev/null | grep -E 'State=|Reason=' | tr -s ' ' | tr '\n' ' ')"
}

cmd_start() {
  become_root start
  local host
  host=$(node_name)
  install_packages
  ensure_host_resolves
  make_fake_gpus
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
  if write_config "$host"; then
    say "wrote $CONF_DIR/slurm.conf and gres.conf (node $host)"
    # Daemons and saved state from another config would disagree with the new one.
    stop_daemon "$SLURMD_PID_FILE" slurmd
    stop_daemon "$CTLD_PID_FILE" slurmctld
    clear_state
  fi
  if live_pid "$CTLD_PID_FILE" slurmctld >/dev/null && ctld_answers; then
    say "slurmctld already running"
  else
    stop_daemon "$CTLD_PID_FILE" slurmctld
    start_ctld
  fi
  if live_pid "$SLURMD_PID_FILE" slurmd >/dev/null; then
    say "slurmd already running"
  else
    start_slurmd
  fi
  wait_until_usable "$host"
}

cmd_stop() {
  become_root stop
  stop_daemon "$SLURMD_PID_FILE" slurmd
  stop_daemon "$CTLD_PID_FILE" slurmctld
  say "stopped"
}

cmd_status() {
  local state
  if ! command -v sinfo >/dev/null; then
    echo "test-slurm: Slurm is not installed (run: sudo bash scripts/test-slurm.sh start)"
    exit 1
  fi
  if ! sinfo; then
    echo "test-slurm: slurmctld does not answer (run: sudo bash scripts/test-slurm.sh start)"
    exit 1
  fi
  state=$(node_state)
  if ! node_usable "$state"; then
    echo "test-slurm: node $(node_name) is not usable (state: ${state:-none})"
    exit 1
  fi
  # slurmctld notices a dead slurmd only after SlurmdTimeout (5 min): ask slurmd itself.
  if ! scontrol show slurmd >/dev/null 2>&1; then
    echo "test-slurm: slurmd does not answer (run: sudo bash scripts/test-slurm.sh start)"
    exit 1
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) usage ;;
esac
