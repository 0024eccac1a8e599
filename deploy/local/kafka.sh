#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM), run
# from jars that Maven resolves from Maven Central. No Docker. See deploy/README.md.
#
#   kafka.sh fetch             resolve the broker jars into the cache (once; idempotent)
#   kafka.sh start STATE_DIR   start a broker on free ports; print 127.0.0.1:PORT on stdout
#                              (a restart reuses the STATE_DIR's last ports while they are
#                              free, so clients that know the address reconnect to it)
#   kafka.sh stop STATE_DIR    stop it (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s)
#
# Only the bootstrap address goes to stdout; everything else goes to stderr.
# Environment:
#   ORDER_CASES_CACHE     cache root (default: $HOME/.cache/order-cases)
#   PYTHON                python with confluent_kafka, used for the readiness check
#                         (default: <repo>/.venv/bin/python, else python3)
#   JAVA_HOME             Java 17+ to use (default: java on PATH)
#   KAFKA_HEAP_OPTS       default -Xmx512m
#   KAFKA_JVM_OPTS        extra JVM options
#   KAFKA_START_TIMEOUT   seconds to wait for readiness (default 60)
#   KAFKA_STOP_TIMEOUT    seconds to wait after SIGTERM before SIGKILL (default 30)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
POM=$REPO_ROOT/deploy/kafka/pom.xml
LOG4J_CONFIG=$REPO_ROOT/deploy/kafka/log4j2.yaml

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
# shellcheck source=deploy/local/timing.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/timing.sh"
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: kafka.sh fetch
       kafka.sh start STATE_DIR
       kafka.sh stop STATE_DIR
EOF
  exit 2
}


cache_root() {
  local home=${HOME:-}
  if [[ -z $home ]]; then home=$(getent passwd "$(id -u)" | cut -d: -f6) || true; fi
  [[ -n ${ORDER_CASES_CACHE:-} || -n $home ]] || die "neither ORDER_CASES_CACHE nor HOME is set"
  printf '%s\n' "${ORDER_CASES_CACHE:-$home/.cache/order-cases}"
}

kafka_version() {
  local v
  v=$(sed -n 's:.*<kafka\.version>[[:space:]]*\([^<[:space:]]*\)[[:space:]]*</kafka\.version>.*:\1:p' "$POM" | head -n 1)
  [[ -n $v ]] || die "could not read <kafka.version> from $POM"
  printf '%s\n' "$v"
}

pom_hash() { sha256sum "$POM" | cut -d ' ' -f 1; }

cache_dir() { printf '%s/kafka-%s\n' "$(cache_root)" "$(kafka_version)"; }

java_bin() {
  local j
  if [[ -n ${JAVA_HOME:-} ]]; then j=$JAVA_HOME/bin/java; else j=$(command -v java || true); fi
  [[ -n $j && -x $j ]] || die "java not found (need Java 17+; set JAVA_HOME or install e.g. openjdk-17-jre-headless)"
  printf '%s\n' "$j"
}

check_java_version() {
  local out major
  out=$("$1" -version 2>&1 | head -n 1)
  major=$(sed -n 's/.*version "\([0-9]*\).*/\1/p' <<<"$out")
  if [[ $major == 1 ]]; then major=8; fi
  [[ -n $major ]] || die "could not tell the version of $1 from: $out"
  ((major >= 17)) || die "Kafka 4.x needs Java 17+, but $1 is Java $major"
}

python_bin() {
  if [[ -n ${PYTHON:-} ]]; then
    command -v "$PYTHON" >/dev/null || die "PYTHON=$PYTHON is not an executable"
    printf '%s\n' "$PYTHON"
  elif [[ -x $REPO_ROOT/.venv/bin/python ]]; then
    printf '%s\n' "$REPO_ROOT/.venv/bin/python"
  elif command -v python3 >/dev/null; then
    command -v python3
  else
    die "no python found (set PYTHON to a python that has confluent_kafka)"
  fi
}

is_fetched() { # is_fetched DIR HASH
  [[ -f $1/fetched.ok && -d $1/lib ]] && [[ $(<"$1/fetched.ok") == "$2" ]]
}

# ---------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------
cmd_fetch() {
  local dir hash version
  version=$(kafka_version)
  dir=$(cache_dir)
  hash=$(pom_hash)
  if is_fetched "$dir" "$hash"; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven 3.8+ is needed once to fetch the Kafka jars (e.g. apt-get install -y maven)"
  mkdir -p "$dir"
  # A subshell, so the lock's file descriptor is closed before anything else runs.
  (
    if command -v flock >/dev/null; then
      exec 9>"$dir/.lock"
      if ! flock -n 9; then
        log "another fetch of Kafka $version is running; waiting for it"
        flock 9
      fi
    fi
    if is_fetched "$dir" "$hash"; then exit 0; fi

    local tmp mvnlog t0
    tmp=$(mktemp -d "$dir/lib.tmp.XXXXXX")
    mvnlog=$dir/fetch.log
    # shellcheck disable=SC2064  # expand now: $tmp is local to this subshell
    trap "rm -rf '$tmp'" EXIT
    log "fetching Kafka $version jars from Maven Central into $dir/lib (log: $mvnlog)"
    t0=$(now_us)
    if ! mvn -B -ntp -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
      tail -n 40 "$mvnlog" >&2 || true
      die "Maven could not resolve the Kafka jars (full log: $mvnlog)"
    fi
    [[ -f $tmp/kafka_2.13-$version.jar ]] || die "kafka_2.13-$version.jar missing after the fetch (see $mvnlog)"
    compgen -G "$tmp/log4j-core-*.jar" >/dev/null || die "log4j-core missing after the fetch (see $POM)"
    # The binding must match slf4j-api's major version, or the broker logs nothing.
    if compgen -G "$tmp/slf4j-api-2.*.jar" >/dev/null; then
      compgen -G "$tmp/log4j-slf4j2-impl-*.jar" >/dev/null ||
        die "slf4j-api 2.x is on the classpath: use log4j-slf4j2-impl in $POM"
    else
      compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null ||
        die "slf4j-api 1.7 is on the classpath: use log4j-slf4j-impl in $POM"
    fi
    rm -rf "${dir:?}/lib" "$dir/fetched.ok"
    mv "$tmp" "$dir/lib"
    printf '%s\n' "$hash" >"$dir/fetched.ok.tmp"
    mv "$dir/fetched.ok.tmp" "$dir/fetched.ok"
    log "fetched $(find "$dir/lib" -name '*.jar' | wc -l) jars in $(elapsed "$t0")s"
  )
}

# ---------------------------------------------------------------------------------------
# process helpers
# ---------------------------------------------------------------------------------------
# alive PID: the process exists and is not a zombie.
alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ -r /proc/$pid/stat ]]; then
    stat=$(<"/proc/$pid/stat") 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
  else
    kill -0 "$pid" 2>/dev/null
  fi
}

# ours PID KDIR: PID is a live broker started by this script for KDIR.
ours() {
  local pid=$1 kdir=$2 cmdline
  alive "$pid" || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  else
    cmdline=$(ps -p "$pid" -o command= 2>/dev/null) || return 1
  fi
  [[ $cmdline == *kafka.Kafka* && $cmdline == *"$kdir/server.properties"* ]]
}

read_pid() { [[ -f $1/pid ]] && tr -dc '0-9' <"$1/pid"; }

free_ports() { # free_ports N -> N distinct free TCP ports on 127.0.0.1, space separated
  "$(python_bin)" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# wait_ready BOOTSTRAP PID TIMEOUT -> 0 ready, 2 timed out, 3 process died
wait_ready() {
  "$(python_bin)" - "$@" <<'EOF'
import os, sys, time
from confluent_kafka.admin import AdminClient

bootstrap, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout

def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        if os.path.isdir("/proc"):
            return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False

admin = AdminClient({
    "bootstrap.servers": bootstrap,
    "socket.connection.setup.timeout.ms": 1000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 250,
    "log_level": 0,
    "error_cb": lambda err: None,
})
while True:
    if not alive():
        sys.exit(3)
    left = deadline - time.monotonic()
    if left <= 0:
        sys.exit(2)
    try:
        if admin.list_topics(timeout=min(1.0, left)).brokers:
            sys.exit(0)
    except Exception:
        time.sleep(0.05)
EOF
}

write_server_properties() { # KDIR PORT CONTROLLER_PORT
  local kdir=$1 port=$2 cport=$3
  cat >"$kdir/server.properties.tmp" <<EOF
# Written by deploy/local/kafka.sh; rewritten (new free ports) at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$kdir/data

# One node: every internal topic with replication factor 1 / min ISR 1 (defaults of 3 break groups).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=4

# Fast, small test broker.
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
auto.create.topics.enable=false
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
EOF
  mv "$kdir/server.properties.tmp" "$kdir/server.properties"
}

state_kafka_dir() { # STATE_DIR -> absolute STATE_DIR/kafka (created)
  mkdir -p "$1/kafka" || die "cannot create $1/kafka"
  (cd "$1/kafka" && pwd -P)
}

# ---------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------
cmd_start() {
  local kdir
  kdir=$(state_kafka_dir "$1")
  exec 8>"$kdir/.lock"
  if command -v flock >/dev/null && ! flock -n 8; then
    log "another start/stop on $kdir is running; waiting for it"
    flock -w "${LOCK_TIMEOUT:-300}" 8 || die "gave up waiting for the lock on $kdir/.lock"
  fi

  local pid
  pid=$(read_pid "$kdir" || true)
  if [[ -n $pid ]] && ours "$pid" "$kdir" && [[ -s $kdir/bootstrap ]]; then
    log "already running (pid $pid)"
    cat "$kdir/bootstrap"
    return 0
  fi
  if [[ -n $pid ]] && ours "$pid" "$kdir"; then
    die "a broker (pid $pid) runs for $kdir but never became ready; run: $0 stop $1"
  fi
  rm -f "$kdir/pid" "$kdir/bootstrap"

  cmd_fetch
  local java python lib t0
  java=$(java_bin)
  check_java_version "$java"
  python=$(python_bin)
  "$python" -c 'import confluent_kafka' 2>/dev/null ||
    die "$python cannot import confluent_kafka (needed for the readiness check); set PYTHON or create the venv"
  lib=$(cache_dir)/lib
  [[ -f $LOG4J_CONFIG ]] || die "missing $LOG4J_CONFIG"
  t0=$(now_us)

  # Cluster id: made once per STATE_DIR, reused on restart (the log dirs remember it).
  if [[ ! -s $kdir/cluster_id ]]; then
    "$java" -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>>"$kdir/kafka.log" |
      tr -d '[:space:]' >"$kdir/cluster_id.tmp" || true
    [[ -s $kdir/cluster_id.tmp ]] || { tail -n 20 "$kdir/kafka.log" >&2; die "StorageTool random-uuid failed"; }
    mv "$kdir/cluster_id.tmp" "$kdir/cluster_id"
  fi

  local heap=${KAFKA_HEAP_OPTS:--Xmx512m} timeout=${KAFKA_START_TIMEOUT:-60}
  local -a jvm_opts
  # shellcheck disable=SC2206  # word splitting of option strings is intended
  jvm_opts=($heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Djava.io.tmpdir="$kdir/tmp"
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" ${KAFKA_JVM_OPTS:-})
  # java.io.tmpdir: native libraries (lz4, zstd, snappy) are unpacked there; keep them here.
  mkdir -p "$kdir/tmp"

  local attempt port cport rc bootstrap t1
  for attempt in 1 2 3; do
    if ((attempt == 1)) && [[ -s $kdir/ports ]]; then
      read -r port cport <"$kdir/ports"
    else
      read -r port cport < <(free_ports 2)
    fi
    [[ -n $port && -n $cport ]] || die "could not pick free ports"
    bootstrap=127.0.0.1:$port
    write_server_properties "$kdir" "$port" "$cport"
    printf '\n==== kafka.sh start %s: PLAINTEXT %s, CONTROLLER %s ====\n' "$(date -Is)" "$port" "$cport" >>"$kdir/kafka.log"
    if ! "$java" -cp "$lib/*" "${jvm_opts[@]}" kafka.tools.StorageTool format \
        -t "$(<"$kdir/cluster_id")" -c "$kdir/server.properties" -g >>"$kdir/kafka.log" 2>&1; then
      tail -n 30 "$kdir/kafka.log" >&2
      die "formatting the storage in $kdir/data failed (log: $kdir/kafka.log)"
    fi

    # Detached: own session, stdin/stdout/stderr redirected, inherited descriptors closed
    # (a caller's pipe or lock must not stay open for the broker's lifetime).
    rm -f "$kdir/pid"
    t1=$(now_us)
    (
      cd "$kdir"
      # shellcheck disable=SC2016  # expanded by the inner bash, not here
      exec setsid nohup bash -c '
        for f in /proc/$$/fd/*; do
          n=${f##*/}
          if [[ $n =~ ^[0-9]+$ ]] && ((n > 2)); then eval "exec $n>&-"; fi
        done 2>/dev/null
        echo $$ >"$1"
        shift
        exec "$@"' kafka-launch "$kdir/pid" \
        "$java" -cp "$lib/*" "${jvm_opts[@]}" kafka.Kafka "$kdir/server.properties" \
        </dev/null >>"$kdir/kafka.log" 2>&1
    ) &
    local i
    for ((i = 0; i < 100; i++)); do
      [[ -s $kdir/pid ]] && break
      sleep 0.05
    done
    pid=$(read_pid "$kdir" || true)
    [[ -n $pid ]] || die "the broker did not start (no pid file; log: $kdir/kafka.log)"
    log "started broker pid $pid (PLAINTEXT $bootstrap, CONTROLLER 127.0.0.1:$cport); waiting until it answers"

    rc=0
    wait_ready "$bootstrap" "$pid" "$timeout" || rc=$?
    if ((rc == 0)); then
      printf '%s\n' "$bootstrap" >"$kdir/bootstrap"
      printf '%s %s\n' "$port" "$cport" >"$kdir/ports"
      log "ready after $(elapsed "$t1")s (broker launch to first metadata answer; $(elapsed "$t0")s with storage setup)"
      printf '%s\n' "$bootstrap"
      return 0
    fi
    if ((rc == 3)) && ((attempt < 3)) &&
      tail -n 200 "$kdir/kafka.log" | grep -q 'Address already in use'; then
      log "port taken in the meantime; retrying with new ports"
      continue
    fi
    log "--- last lines of $kdir/kafka.log ---"
    tail -n 60 "$kdir/kafka.log" >&2 || true
    if ((rc == 2)); then
      kill -TERM "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL "$pid" 2>/dev/null || true
      die "the broker was not ready after ${timeout}s (stopped it; log: $kdir/kafka.log)"
    fi
    die "the broker exited during startup (readiness check rc=$rc; log: $kdir/kafka.log)"
  done
}

# ---------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------
cmd_stop() {
  local kdir pid timeout=${KAFKA_STOP_TIMEOUT:-30}
  if [[ ! -d $1/kafka ]]; then
    log "not running (no $1/kafka)"
    return 0
  fi
  kdir=$(cd "$1/kafka" && pwd -P)
  exec 8>"$kdir/.lock"
  if command -v flock >/dev/null && ! flock -n 8; then
    log "another start/stop on $kdir is running; waiting for it"
    flock -w "${LOCK_TIMEOUT:-300}" 8 || die "gave up waiting for the lock on $kdir/.lock"
  fi
  pid=$(read_pid "$kdir" || true)
  if [[ -z $pid ]] || ! ours "$pid" "$kdir"; then
    log "not running"
    rm -f "$kdir/pid" "$kdir/bootstrap"
    return 0
  fi
  local t0 i
  t0=$(now_us)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "pid $pid still running after ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$kdir/pid" "$kdir/bootstrap"
  log "stopped broker pid $pid in $(elapsed "$t0")s"
}

main() {
  (($# >= 1)) || usage
  case $1 in
    fetch)
      (($# == 1)) || usage
      cmd_fetch
      ;;
    start | stop)
      (($# == 2)) || usage
      [[ -n $2 ]] || die "STATE_DIR is empty"
      "cmd_$1" "$2"
      ;;
    -h | --help | help) usage ;;
    *)
      log "unknown command: $1"
      usage
      ;;
  esac
}

main "$@"
