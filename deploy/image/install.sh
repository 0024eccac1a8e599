#!/bin/sh
# The image's install steps, shared by deploy/Dockerfile (its RUN lines) and
# deploy/image/check.sh (the same steps into a clean virtualenv, where no Docker engine
# runs). What gets installed is what pyproject.toml declares: no list is kept here.
#
#   install.sh dependencies SRC VENV   [project] dependencies of SRC/pyproject.toml (a
#                                      layer of its own, rebuilt only when that changes)
#   install.sh project SRC VENV        the service from SRC, the build context; its
#                                      packages are pyproject.toml's to say
#
# POSIX sh (the slim image has no bash). VENV must be a virtualenv.
set -eu

usage() { echo "usage: install.sh dependencies|project SRC VENV" >&2; exit 2; }
[ $# -eq 3 ] || usage
step=$1 src=$2 venv=$3
pip() { "$venv/bin/python" -m pip --no-cache-dir --disable-pip-version-check "$@"; }

case $step in
  dependencies)
    requirements=$(mktemp)
    "$venv/bin/python" - "$src/pyproject.toml" >"$requirements" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as file:
    print("\n".join(tomllib.load(file)["project"]["dependencies"]))
PY
    pip install --quiet -r "$requirements"
    rm -f "$requirements"
    ;;
  project)
    # --no-deps: the dependencies step installed them; `pip check` fails the install
    # if one is missing or conflicts all the same
    pip install --quiet --no-deps "$src"
    pip check
    ;;
  *) usage ;;
esac
