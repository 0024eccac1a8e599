#!/usr/bin/env bash
# Publish the sample scenario. The case actions go first, so EX-1003's OpenCase arrives
# before its OrderPlaced and is held until the order comes (then decided as usual).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cases="${CASES:-cases}"
"$cases" publish case-actions "$here/case-actions.jsonl"
"$cases" publish orders "$here/orders.jsonl"
"$cases" publish payments "$here/payments.jsonl"
