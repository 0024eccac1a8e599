#!/usr/bin/env bash
# The image's install, checked where no Docker engine runs (CI): what deploy/Dockerfile
# does, done the same way into a clean virtualenv, then the installed `cases` run for real.
#
#   1. the build context, assembled as Docker would: the repository root less what
#      .dockerignore excludes, matched by Docker's own library (deploy/image/context);
#      the tooling, tests and local state must not be in it
#   2. the Dockerfile's install steps, read from its RUN lines (each runs
#      deploy/image/install.sh, from the context, as the Dockerfile does) and run in the
#      same order, from the same files, into a new virtualenv: not the repository's .venv,
#      and never with the checkout on sys.path
#   3. what got installed: `cases --help`; no bench, chaos, workload or tests; the data
#   4. a real run against a broker and a database (KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL
#      when both are set, else local ones started for it), as production does it:
#      `cases setup` as the owner, deploy/database-role.sql and database-login.sql, then
#      `cases run` (every component) as the runtime login role; two records published
#      with `cases publish` must become a published CaseOpened, and where the installed
#      service serves CASES_HTTP_PORT, /healthz, /readyz and /metrics must answer
#
# Needs Go (the context's matcher, built once into the Go build cache) and python3.11.
# Options: PYTHON (the interpreter of the new virtualenv, python3.11),
# IMAGE_CHECK_KEEP=1 (keep the work directory). Prints what it checked; exit 0 when all held.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PYTHON:-python3.11}
say() { printf 'image-check: %s\n' "$*" >&2; }
die() { printf 'image-check: FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/order-cases-image.XXXXXX")
services_state="" database="" login="" run_pid=""
cleanup() {
  local rc=$?
  if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  if [[ -n $database ]]; then
    "$work/venv/bin/python" - "$server_url" "$database" "$login" <<'PY' || true
import sys

import psycopg
from psycopg import sql

url, database, login = sys.argv[1:]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(database)))
    if login:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
PY
  fi
  if [[ -n $services_state ]]; then
    bash "$repo/deploy/local/services.sh" down "$services_state" >/dev/null 2>&1 || true
  fi
  if ((rc != 0)) || [[ -n ${IMAGE_CHECK_KEEP:-} ]]; then
    say "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT

# ---- 1. the build context -------------------------------------------------------------
say "build context from $repo (.dockerignore, Docker's matcher)"
(cd "$repo/deploy/image/context" && go run . "$repo" "$work/context") \
  || die "could not assemble the build context"
for unwanted in tests bench chaos workload tools .git .venv .local .ci docs examples; do
  [[ ! -e $work/context/$unwanted ]] || die "the build context holds $unwanted/"
done
stray=$(cd "$work/context" && find . \( -name __pycache__ -o -name '*.pyc' -o -name '.env' \
  -o -name '*.egg-info' \) -print -quit)
[[ -z $stray ]] || die "the build context holds $stray"
[[ -f $work/context/pyproject.toml ]] || die "the build context lacks pyproject.toml"
say "context: $(cd "$work/context" && find . -type f | wc -l) files, $(du -sk "$work/context" | cut -f1) KiB"

# ---- 2. the Dockerfile's install steps, in a new virtualenv -----------------------------
# Its build stage is expected to read:  COPY deploy/image/install.sh SCRIPT,
# RUN python -m venv VENV, COPY pyproject.toml SRC/pyproject.toml,
# RUN sh SCRIPT dependencies SRC VENV, COPY . SRC, RUN sh SCRIPT project SRC VENV.
# Anything else that installs must go into install.sh, or this check stops here.
dockerfile="$repo/deploy/Dockerfile"
mapfile -t steps < <(sed -nE 's/^RUN +sh +[^ ]*install\.sh +([a-z]+) .*/\1/p' "$dockerfile")
[[ ${steps[*]:-} == "dependencies project" ]] \
  || die "deploy/Dockerfile's install.sh steps are '${steps[*]:-}', not 'dependencies project': update this check with it"
grep -qE '^COPY +deploy/image/install\.sh ' "$dockerfile" || die "deploy/Dockerfile does not copy install.sh from the context"
grep -qE '^COPY +pyproject\.toml ' "$dockerfile" || die "deploy/Dockerfile does not copy pyproject.toml before the dependencies"
grep -qE '^COPY +\. ' "$dockerfile" || die "deploy/Dockerfile does not copy the context before the project"
other=$(grep -E '^RUN ' "$dockerfile" | grep -vE 'install\.sh|^RUN +python -m venv |^RUN +groupadd ' || true)
[[ -z $other ]] || die "deploy/Dockerfile has a RUN line this check does not reproduce: $other"

say "virtualenv with $("$python" --version 2>&1) (the image's minor version)"
"$python" -m venv "$work/venv"
mkdir "$work/deps-src"
cp "$work/context/pyproject.toml" "$work/deps-src/"   # COPY pyproject.toml /src/pyproject.toml
install_started=$(date +%s)
# as `docker build` runs it: from a directory that is not the checkout, no PYTHONPATH
(cd "$work" && env -u PYTHONPATH -u VIRTUAL_ENV \
  sh "$work/context/deploy/image/install.sh" dependencies "$work/deps-src" "$work/venv") \
  || die "install.sh dependencies failed"
(cd "$work" && env -u PYTHONPATH -u VIRTUAL_ENV \
  sh "$work/context/deploy/image/install.sh" project "$work/context" "$work/venv") \
  || die "install.sh project failed"
say "installed in $(( $(date +%s) - install_started ))s"

# ---- 3. what got installed ------------------------------------------------------------
# A clean environment, outside the checkout: only the virtualenv can answer.
clean_env=(env -i "PATH=$work/venv/bin:/usr/bin:/bin" "HOME=$work" "LANG=C.UTF-8")
(cd "$work" && "${clean_env[@]}" cases --help >/dev/null) || die "cases --help failed"
(cd "$work" && "${clean_env[@]}" python - <<'PY') || die "the installed package is not as it should be"
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

files = importlib.metadata.distribution("order-cases").files or []
tops = sorted({f.parts[0] for f in files if not f.parts[0].endswith(".dist-info")
               and f.parts[0] != ".."})
print(f"image-check: installed packages: {', '.join(tops)}", file=sys.stderr)
for tooling in ("tests", "bench", "chaos", "workload"):
    assert tooling not in tops, f"{tooling} is installed"
    assert importlib.util.find_spec(tooling) is None, f"{tooling} is importable"
for service in ("cases_cli", "configuration", "consumers", "domain", "relay", "schemas",
                "service", "storage"):
    assert service in tops, f"{service} is not installed"
import schemas.codec
import storage.migrate

assert len(list(Path(schemas.codec.AVRO_DIR).glob("*.avsc"))) > 10, "no Avro schemas"
assert list(Path(storage.migrate.MIGRATIONS).glob("*.sql")), "no migrations"
assert "site-packages" in schemas.codec.__file__, schemas.codec.__file__
PY

# ---- 4. a real run --------------------------------------------------------------------
if [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} && -n ${DATABASE_URL:-} ]]; then
  bootstrap=$KAFKA_BOOTSTRAP_SERVERS server_url=$DATABASE_URL
  say "services: the given KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (a database of its own)"
else
  services_state="$work/services"
  say "services: a local broker and database in $services_state"
  # kafka.sh's readiness probe needs a Python with confluent_kafka: the new virtualenv's
  lines=$(PYTHON="$work/venv/bin/python" bash "$repo/deploy/local/services.sh" up "$services_state") \
    || die "local services did not start"
  bootstrap=$(sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p' <<<"$lines")
  server_url=$(sed -n 's/^DATABASE_URL=//p' <<<"$lines")
fi
suffix=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
database="image_check_$suffix" login="image_check_app_$suffix"
owner_url="${server_url%/*}/$database"
runtime_url=$("$work/venv/bin/python" - "$owner_url" "$login" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit

url, login = sys.argv[1:]
parts = urlsplit(url)
host = parts.netloc.rsplit("@", 1)[-1]
print(urlunsplit(parts._replace(netloc=f"{login}:image-check@{host}")))
PY
)
"$work/venv/bin/python" - "$server_url" "$database" <<'PY'
import sys

import psycopg
from psycopg import sql

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sys.argv[2])))
PY

psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || true)
[[ -x $psql ]] || die "psql is needed to apply deploy/database-role.sql"
owner_env=("${clean_env[@]}" "KAFKA_BOOTSTRAP_SERVERS=$bootstrap" "DATABASE_URL=$owner_url")
http_port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runtime_env=("${clean_env[@]}" "KAFKA_BOOTSTRAP_SERVERS=$bootstrap" "DATABASE_URL=$runtime_url"
             "CASES_HTTP_PORT=$http_port")
(cd "$work" && "${owner_env[@]}" cases --log-level WARNING setup) || die "cases setup failed"
# as compose and the setup Job do it: the password from the environment
APP_PASSWORD=image-check "$psql" "$owner_url" -q -v ON_ERROR_STOP=1 -v login="$login" \
  -c '\getenv password APP_PASSWORD' \
  -f "$repo/deploy/database-role.sql" -f "$repo/deploy/database-login.sql" >/dev/null \
  || die "deploy/database-role.sql or database-login.sql failed"
say "database $database set up by its owner; the service logs in as $login"

(cd "$work" && exec "${runtime_env[@]}" cases run) \
  >"$work/run.log" 2>&1 &
run_pid=$!

order="IMG-$suffix"
cat >"$work/orders.jsonl" <<EOF
{"event_id": "$order-placed", "type": "OrderPlaced", "occurred_at": "2026-03-01T10:00:00Z", "order_id": "$order", "buyer_id": "buyer-img", "seller_id": "seller-img", "total": {"amount_minor": 4999, "currency": "EUR"}, "payment_method": "aliberber_payments", "shipping_address": {"name": "Ada Lovelace", "line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}, "ship_by": "2026-03-03", "estimated_delivery": "2026-03-10"}
EOF
cat >"$work/case-actions.jsonl" <<EOF
{"event_id": "$order-open", "type": "OpenCase", "occurred_at": "2026-03-12T08:30:00Z", "order_id": "$order", "actor_id": "buyer-img", "actor_role": "buyer", "reason": "non_delivery", "description": "Tracking has not moved for a week."}
EOF
(cd "$work" && "${runtime_env[@]}" cases publish orders orders.jsonl \
  && "${runtime_env[@]}" cases publish case-actions case-actions.jsonl) \
  || die "cases publish failed"

say "waiting for $order's CaseOpened to be stored and published"
"$work/venv/bin/python" - "$owner_url" "$order" "$run_pid" <<'PY' || {
import os
import sys
import time

import psycopg

url, order, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 120
with psycopg.connect(url, autocommit=True) as conn:
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM case_events e WHERE order_id = %s "
            "AND record->>'type' = 'CaseOpened' AND NOT EXISTS ("
            "SELECT 1 FROM unpublished_case_events u WHERE u.seq = e.seq)",
            (order,)).fetchone()
        if row[0] >= 1:
            sys.exit(0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("`cases run` exited")
        time.sleep(0.5)
sys.exit("no published CaseOpened after 120 s")
PY
  tail -n 40 "$work/run.log" >&2
  die "the order's case was not opened and published"
}
(cd "$work" && "${runtime_env[@]}" cases show "$order") | sed 's/^/image-check:   /' >&2 \
  || die "cases show failed"

if (cd "$work" && "${clean_env[@]}" python -c 'import observability.http' 2>/dev/null); then
  say "the service's HTTP endpoints on port $http_port"
  (cd "$work" && "${clean_env[@]}" python - "$http_port" <<'PY') || die "/healthz, /readyz or /metrics did not answer as they should"
import sys
import time
import urllib.error
import urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
deadline = time.monotonic() + 60
for path in ("/healthz", "/readyz", "/metrics"):
    while True:
        try:
            with urllib.request.urlopen(base + path, timeout=5) as answer:
                body = answer.read().decode()
                break
        except (urllib.error.URLError, OSError) as error:
            if time.monotonic() > deadline:
                sys.exit(f"{path}: {error}")
            time.sleep(0.5)
    print(f"image-check:   {path}: 200", file=sys.stderr)
assert "order_cases_" in body, "/metrics serves none of the service's metrics"
PY
else
  say "the installed service serves no HTTP endpoints (no observability.http): not checked"
fi

kill -TERM "$run_pid"
rc=0
wait "$run_pid" || rc=$?
run_pid=""
((rc == 0)) || { tail -n 40 "$work/run.log" >&2; die "cases run exited $rc on SIGTERM"; }
say "ok: the image's install runs the service as the runtime role ($(( $(date +%s) - started ))s)"
