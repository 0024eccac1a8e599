#!/usr/bin/env bash
# Both local services the project needs: Kafka (kafka.sh) and PostgreSQL (postgres.sh).
#
#   services.sh up STATE_DIR     start both; print KAFKA_BOOTSTRAP_SERVERS=... and
#                                DATABASE_URL=... lines on stdout (for eval)
#   services.sh env STATE_DIR    print the same lines for services already up (exit 1 if not)
#   services.sh down STATE_DIR   stop both
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)

usage() { echo "usage: services.sh up|env|down STATE_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
state=$2

print_env() {
  local bootstrap=$state/kafka/bootstrap url=$state/postgres/database_url
  [[ -s $bootstrap && -s $url ]] || { echo "services.sh: no services up in $state" >&2; return 1; }
  # the files may outlive the processes (e.g. after a reboot)
  [[ -f $state/kafka/pid ]] && kill -0 "$(cat "$state/kafka/pid")" 2>/dev/null \
    || { echo "services.sh: the broker in $state is not running" >&2; return 1; }
  echo "KAFKA_BOOTSTRAP_SERVERS=$(cat "$bootstrap")"
  echo "DATABASE_URL=$(cat "$url")"
}

case $cmd in
  up)
    mkdir -p "$state"
    bash "$here/postgres.sh" start "$state" >/dev/null
    if ! bash "$here/kafka.sh" start "$state" >/dev/null; then
      bash "$here/postgres.sh" stop "$state" || true
      exit 1
    fi
    print_env
    ;;
  env) print_env ;;
  down)
    status=0
    bash "$here/kafka.sh" stop "$state" || status=1
    bash "$here/postgres.sh" stop "$state" || status=1
    exit $status
    ;;
  *) usage ;;
esac
