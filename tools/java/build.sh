#!/usr/bin/env bash
# Builds one of the repository's small Maven projects once per content and prints the
# classpath to run it with (java -cp "$(tools/java/build.sh DIR)" MAIN ...).
#
# The classes and the jars they need go to $ORDER_CASES_CACHE/java/NAME-HASH (default
# ~/.cache/order-cases), HASH covering the project's pom.xml and src/: an unchanged project
# is not built again, in CI or anywhere else. Plugins are pinned in each pom.xml (Maven
# 3.8's defaults are old). Only the classpath goes to stdout.
set -euo pipefail

project=${1:?usage: build.sh MAVEN_PROJECT_DIR}
project=$(cd -- "$project" && pwd -P)
[[ -f $project/pom.xml ]] || { echo "build.sh: no pom.xml in $project" >&2; exit 2; }
name=$(basename -- "$project")
hash=$(cd -- "$project" && find pom.xml src -type f -print0 | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)
root=${ORDER_CASES_CACHE:-$HOME/.cache/order-cases}/java
out=$root/$name-$hash

mkdir -p -- "$root"
exec 9>"$root/$name.lock"
flock 9  # one build at a time (two checkouts may share the cache)
if [[ ! -f $out/.built ]]; then
  echo "build.sh: building $name (mvn, once per content) into $out" >&2
  rm -rf -- "$out"
  # stdout goes to stderr: the caller reads the classpath alone from stdout
  mvn -B -q -ntp -f "$project/pom.xml" -Dbuild.dir="$out" \
    compile dependency:copy-dependencies >&2
  touch -- "$out/.built"
  # builds of other contents unused for a week (another checkout may still use a recent one)
  find "$root" -maxdepth 1 -name "$name-*" ! -name "$name-$hash" -mtime +7 -exec rm -rf -- {} +
fi
touch -- "$out"
printf '%s\n' "$out/classes:$out/lib/*"
