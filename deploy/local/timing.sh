#!/usr/bin/env bash
# Sourced by the local service scripts: elapsed-time helpers for their progress lines.

# Microseconds since the epoch (bash 5 has EPOCHREALTIME; fall back to whole seconds).
now_us() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "$((10#$t))"
  else
    printf '%s\n' "$(($(date +%s) * 1000000))"
  fi
}

# elapsed START_US -> "12.3" (seconds since START_US)
elapsed() {
  local d=$(($(now_us) - $1))
  printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}
