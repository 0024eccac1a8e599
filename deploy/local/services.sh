#!/usr/bin/env bash
# Kafka and PostgreSQL together, for `make run`, the pytest fixtures and CI.
#
#   services.sh up STATE_DIR     start both (in parallel); print on stdout:
#                                  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT
#                                  DATABASE_URL=postgresql://postgres@127.0.0.1:PORT/order_cases
#                                if either fails, both are stopped and the exit status is non-zero
#   services.sh down STATE_DIR   stop both (no error if not running)
#   services.sh env STATE_DIR    print the same two lines for services already up
#
# Use: eval "$(deploy/local/services.sh up .state)"; export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
#  or: export $(deploy/local/services.sh up .state)
# Progress goes to stderr. Options: see kafka.sh and postgres.sh (same environment variables).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: services.sh up STATE_DIR
       services.sh down STATE_DIR
       services.sh env STATE_DIR
EOF
  exit 2
}

# alive PID: the process exists and is not a zombie.
alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ -r /proc/$pid/stat ]]; then
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
  else
    kill -0 "$pid" 2>/dev/null
  fi
}

print_env() { # print_env BOOTSTRAP URL
  printf 'KAFKA_BOOTSTRAP_SERVERS=%s\n' "$1"
  printf 'DATABASE_URL=%s\n' "$2"
}

cmd_up() {
  local state=$1 tmp pg_pid kafka_out pg_out rc_k=0 rc_p=0
  mkdir -p "$state" || die "cannot create $state"
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now
  trap "rm -rf '$tmp'" EXIT
  "$SCRIPT_DIR/postgres.sh" start "$state" >"$tmp/pg" &
  pg_pid=$!
  "$SCRIPT_DIR/kafka.sh" start "$state" >"$tmp/kafka" || rc_k=$?
  wait "$pg_pid" || rc_p=$?
  kafka_out=$(tail -n 1 "$tmp/kafka")
  pg_out=$(tail -n 1 "$tmp/pg")
  if ((rc_k != 0 || rc_p != 0)) || [[ -z $kafka_out || -z $pg_out ]]; then
    log "start failed (kafka.sh rc=$rc_k, postgres.sh rc=$rc_p); stopping both"
    "$SCRIPT_DIR/kafka.sh" stop "$state" || true
    "$SCRIPT_DIR/postgres.sh" stop "$state" || true
    exit 1
  fi
  print_env "$kafka_out" "$pg_out"
}

cmd_down() {
  local state=$1 pg_pid rc_k=0 rc_p=0
  "$SCRIPT_DIR/postgres.sh" stop "$state" &
  pg_pid=$!
  "$SCRIPT_DIR/kafka.sh" stop "$state" || rc_k=$?
  wait "$pg_pid" || rc_p=$?
  ((rc_k == 0 && rc_p == 0)) || die "stop failed (kafka.sh rc=$rc_k, postgres.sh rc=$rc_p)"
}

cmd_env() {
  local state=$1 bootstrap url
  [[ -s $state/kafka/bootstrap ]] || die "Kafka is not up in $state (no $state/kafka/bootstrap); run: $0 up $state"
  [[ -s $state/postgres/database_url ]] || die "PostgreSQL is not up in $state (no $state/postgres/database_url); run: $0 up $state"
  # The files can outlive the processes (a reboot, a kill): check that both still run.
  alive "$(tr -dc '0-9' <"$state/kafka/pid" 2>/dev/null || true)" ||
    die "the Kafka broker of $state is not running (stale files); run: $0 down $state; $0 up $state"
  alive "$(head -n 1 "$state/postgres/data/postmaster.pid" 2>/dev/null | tr -dc '0-9' || true)" ||
    die "the PostgreSQL server of $state is not running (stale files); run: $0 down $state; $0 up $state"
  bootstrap=$(<"$state/kafka/bootstrap")
  url=$(<"$state/postgres/database_url")
  print_env "$bootstrap" "$url"
}

main() {
  (($# == 2)) || usage
  [[ -n $2 ]] || die "STATE_DIR is empty"
  case $1 in
    up | down | env) "cmd_$1" "$2" ;;
    *)
      log "unknown command: $1"
      usage
      ;;
  esac
}

main "$@"
