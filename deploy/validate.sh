#!/usr/bin/env bash
# `make deploy-check`: the Kubernetes manifests, the compose file, the Prometheus rules
# and the Grafana dashboard, checked offline (deploy/validate.py says what is checked).
# The tools come from package registries once and stay in ${ORDER_CASES_CACHE:-~/.cache/order-cases}:
#   - a virtualenv with kubernetes-validate (Kubernetes' own schemas), jsonschema, PyYAML
#   - KEDA's module from the Go module proxy, for its CRDs' schemas (ScaledObject,
#     TriggerAuthentication), and compose-go's, for the Compose specification's schema
#   - promtool, built from the Prometheus module (several minutes the first time; then
#     reused). Where it cannot be built the rules are still checked for structure and
#     metric names, and this says so; DEPLOY_CHECK_PROMTOOL=require makes that an error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${ORDER_CASES_CACHE:-$HOME/.cache/order-cases}
python=${PYTHON:-python3.11}
say() { printf 'validate: %s\n' "$*" >&2; }
die() { printf 'validate: FAILED: %s\n' "$*" >&2; exit 1; }

# Pinned: a new version is a deliberate change of this line.
TOOLS="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.4"
KEDA_MODULE=github.com/kedacore/keda/v2@v2.20.2
COMPOSE_MODULE=github.com/compose-spec/compose-go/v2@v2.16.2
PROMETHEUS_VERSION=v0.316.0   # the Go module version of Prometheus 3.16.0

mkdir -p "$cache"
exec 9>"$cache/deploy-check.lock"
flock 9   # concurrent runs share the cache; one sets it up at a time

# ---- the Python tools ---------------------------------------------------------------
venv="$cache/deploy-check-$(printf '%s' "$TOOLS" | sha256sum | cut -c1-12)"
if [[ ! -f $venv/.complete ]]; then
  say "installing $TOOLS into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $TOOLS
  touch "$venv/.complete"
fi

# ---- schemas from Go modules: the module zip, as the proxy serves it ------------------
module_zip() { # module_zip MODULE@VERSION: the path of its zip in the module cache
  local json zip
  # outside any module; the zip is what we read, so a toolchain too old to extract it
  # (`requires go >= ...`) does not matter
  json=$(cd "$cache" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1" 2>/dev/null || true)
  zip=$(sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  [[ -n $zip && -f $zip ]] || die "could not download $1 from the Go module proxy: $json"
  printf '%s\n' "$zip"
}
keda_zip=$(module_zip "$KEDA_MODULE")
compose_zip=$(module_zip "$COMPOSE_MODULE")

# ---- promtool -------------------------------------------------------------------------
promtool="$cache/promtool-$PROMETHEUS_VERSION/promtool"
failed="$cache/promtool-$PROMETHEUS_VERSION.failed"   # holds the `go version` that failed
go_version=$(go version)
if [[ ! -x $promtool && -f $failed && $(<"$failed") == "$go_version" ]]; then
  say "promtool $PROMETHEUS_VERSION failed to build with this Go before ($cache/promtool-build.log); not trying again"
elif [[ ! -x $promtool ]]; then
  say "building promtool $PROMETHEUS_VERSION from the Go module proxy (once; several minutes)"
  started=$(date +%s)
  if GOBIN="$cache/promtool-$PROMETHEUS_VERSION" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
      nice -n 10 go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" \
      >"$cache/promtool-build.log" 2>&1; then
    say "promtool built in $(( $(date +%s) - started ))s"
    rm -f "$failed"
  else
    say "promtool could not be built in $(( $(date +%s) - started ))s ($cache/promtool-build.log: $(tail -n 1 "$cache/promtool-build.log"))"
    printf '%s\n' "$go_version" >"$failed"
  fi
fi
args=(--keda-zip "$keda_zip" --compose-zip "$compose_zip")
if [[ -x $promtool ]]; then
  args+=(--promtool "$promtool")
elif [[ ${DEPLOY_CHECK_PROMTOOL:-} == require ]]; then
  die "promtool is required (DEPLOY_CHECK_PROMTOOL=require) but could not be built"
fi
flock -u 9

exec "$venv/bin/python" "$repo/deploy/validate.py" "${args[@]}"
