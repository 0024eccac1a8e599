#!/usr/bin/env bash
# Publish the sample scenario, its times moved to the present (render.py):
#   EX-1001  a non-delivery case the seller refunds in two goes: closed as a full refund
#   EX-1002  a not-as-described case, and someone who is not the buyer trying to open one
#   EX-1003  a case the buyer opens and closes
#   EX-1004  an OpenCase that arrives before its order (orders-later.jsonl comes last):
#            it waits for the order, and is decided once, when the order comes
# Each topic in the order its records happened, as upstream services send them. Each
# run's ids end with a tag of their own (render.py): `cases show EX-1001-<tag>`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cases="${CASES:-cases}"
python="${PYTHON:-python3}"
export RUN="${RUN:-$(date +%s | tail -c 5)}"
echo "sample orders: EX-1001-$RUN EX-1002-$RUN EX-1003-$RUN EX-1004-$RUN" >&2
for step in orders:orders payments:captures case-actions:case-actions payments:refunds \
    orders:orders-later; do
  topic="${step%%:*}" file="${step#*:}"
  "$python" "$here/render.py" "$here/$file.jsonl" | "$cases" publish "$topic" -
done
