#!/usr/bin/env bash
# `make run`: the service against KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when both are
# set, else against a local broker and database in STATE_DIR (started when not running);
# `cases setup` (migrations, missing topics), then `cases run`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
state="${1:-$repo/.local/services}"
if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" || -z "${DATABASE_URL:-}" ]]; then
  mkdir -p "$state"
  if ! env_lines="$(bash "$repo/deploy/local/services.sh" env "$state" 2>/dev/null)"; then
    env_lines="$(bash "$repo/deploy/local/services.sh" up "$state")"
  fi
  eval "$env_lines"
  export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
  echo "run.sh: local services in $state (stop them with: make stop)" >&2
  echo "run.sh: in another shell: eval \"\$(bash deploy/local/services.sh env $state)\"" >&2
fi
# `cases run` only checks that the database is migrated and the topics exist: set up first
"$repo/.venv/bin/cases" setup
exec "$repo/.venv/bin/cases" run
