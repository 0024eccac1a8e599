#!/usr/bin/env bash
# A private PostgreSQL server from the installed binaries, on a free port, with its data,
# log and Unix socket under STATE_DIR/postgres. No Docker. See deploy/README.md.
#
#   postgres.sh start STATE_DIR   initdb (first time), start, create the database;
#                                 print postgresql://postgres@127.0.0.1:PORT/order_cases
#                                 (a restart reuses the last port while it is free, so
#                                 clients that know the URL reconnect to it)
#   postgres.sh stop STATE_DIR    pg_ctl -m fast stop (no error if not running)
#
# Only the URL goes to stdout; everything else goes to stderr.
# initdb and postgres refuse to run as root: as root this script runs them as the
# `postgres` user (PG_USER), which must be able to reach STATE_DIR/postgres; directories
# on the way that it cannot traverse get execute (search) permission for it (an ACL
# where setfacl exists, else o+x), and the script says so.
# Environment:
#   PG_BINDIR          directory with initdb/pg_ctl/psql (default: pg_config --bindir,
#                      else the newest /usr/lib/postgresql/*/bin, else PATH; as root
#                      with apt-get and none found: apt-get install -y postgresql)
#   PG_USER            server user when run as root (default: postgres)
#   PG_DATABASE        database to create (default: order_cases)
#   PG_EXTRA_OPTS      extra server options for pg_ctl -o, e.g. "-c fsync=off"
#   INITDB_EXTRA_OPTS  extra initdb options
#   PG_START_TIMEOUT   seconds for pg_ctl -w start (default 60)
#   PG_STOP_TIMEOUT    seconds for pg_ctl -w stop (default 60)
set -euo pipefail

PG_USER=${PG_USER:-postgres}
PG_DATABASE=${PG_DATABASE:-order_cases}

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
# shellcheck source=deploy/local/timing.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/timing.sh"
die() { printf 'postgres.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: postgres.sh start STATE_DIR
       postgres.sh stop STATE_DIR
EOF
  exit 2
}


is_root() { [[ $(id -u) == 0 ]]; }

# ---------------------------------------------------------------------------------------
# binaries
# ---------------------------------------------------------------------------------------
has_server_bins() { [[ -x $1/initdb && -x $1/pg_ctl && -x $1/postgres ]]; }

search_bindir() {
  local d
  if [[ -n ${PG_BINDIR:-} ]]; then
    has_server_bins "$PG_BINDIR" || die "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl/postgres"
    printf '%s\n' "$PG_BINDIR"
    return 0
  fi
  if command -v pg_config >/dev/null; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [[ -n $d ]] && has_server_bins "$d"; then
      printf '%s\n' "$d"
      return 0
    fi
  fi
  # Debian/Ubuntu keep the server binaries off PATH, one directory per major version.
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin /usr/pgsql-*/bin | sort -rV); do
    if has_server_bins "$d"; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null; then
    d=$(dirname -- "$(command -v initdb)")
    if has_server_bins "$d"; then
      printf '%s\n' "$d"
      return 0
    fi
  fi
  return 1
}

find_bindir() {
  local d
  if d=$(search_bindir); then
    printf '%s\n' "$d"
    return 0
  fi
  if is_root && command -v apt-get >/dev/null; then
    log "no PostgreSQL server binaries found; installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q postgresql >&2; then
      apt-get update -q >&2 || true
      apt-get install -y -q postgresql >&2 || die "apt-get install -y postgresql failed"
    fi
    d=$(search_bindir) || die "postgresql installed, but no initdb/pg_ctl/postgres found"
    printf '%s\n' "$d"
    return 0
  fi
  die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install PostgreSQL or set PG_BINDIR"
}

# ---------------------------------------------------------------------------------------
# running as the server user
# ---------------------------------------------------------------------------------------
# as_pg CMD...: run CMD as the server user (PG_USER when root, else ourselves), from /
# so that an unreadable current directory does not bother the PostgreSQL tools.
as_pg() {
  if is_root; then
    if command -v runuser >/dev/null; then
      (cd / && runuser -u "$PG_USER" -- "$@")
    else
      # shellcheck disable=SC2016  # expanded by the inner sh
      (cd / && su -s /bin/sh -c 'exec "$0" "$@"' "$PG_USER" "$@")
    fi
  else
    (cd / && "$@")
  fi
}

# Make DIR and all its ancestors traversable by PG_USER (root only).
grant_traverse() {
  local target=$1 path="" part d
  local -a parts
  IFS=/ read -r -a parts <<<"${target#/}"
  for part in / "${parts[@]}"; do
    [[ -n $part ]] || continue
    if [[ $part == / ]]; then d=/; else path=$path/$part; d=$path; fi
    if ! as_pg test -x "$d" 2>/dev/null; then
      if command -v setfacl >/dev/null && setfacl -m "u:$PG_USER:x" "$d" 2>/dev/null; then
        log "note: gave user $PG_USER search permission on $d (ACL u:$PG_USER:x)"
      else
        chmod o+x "$d" || die "cannot make $d traversable for user $PG_USER"
        log "note: added o+x to $d so that user $PG_USER can reach its data directory"
      fi
    fi
  done
  as_pg test -w "$target" || die "user $PG_USER cannot write to $target"
}

free_port() {
  local py
  py=$(command -v python3 || command -v python || true)
  [[ -n $py ]] || die "python3 is needed to pick a free port"
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

state_pg_dir() { # STATE_DIR -> absolute STATE_DIR/postgres, created and owned by the server user
  local pgdir
  mkdir -p "$1/postgres" || die "cannot create $1/postgres"
  pgdir=$(cd "$1/postgres" && pwd -P)
  [[ $pgdir != *"'"* ]] || die "the state directory path must not contain a single quote: $pgdir"
  if is_root; then
    id -u "$PG_USER" >/dev/null 2>&1 ||
      die "running as root, but there is no user $PG_USER to run the server as (install Debian's postgresql package, or set PG_USER)"
    chown "$PG_USER:" "$pgdir"
    chmod 700 "$pgdir"
    grant_traverse "$pgdir"
  fi
  printf '%s\n' "$pgdir"
}

# server_pid DATA -> the postmaster's pid if it is running
server_pid() {
  local pid
  [[ -f $1/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null | tr -dc '0-9')
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    local stat
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || return 1
  fi
  printf '%s\n' "$pid"
}

psql_cmd() { # psql_cmd BINDIR PORT SQL
  PGCONNECT_TIMEOUT=10 "$1/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U postgres -d postgres -tA -c "$3"
}

# holds_lock PID FILE: PID has FILE open (a server started by an earlier version of this
# script inherited the lock's descriptor and so holds the lock for its whole life).
holds_lock() {
  local f
  for f in "/proc/$1/fd"/*; do
    [[ $(readlink "$f" 2>/dev/null) == "$2" ]] && return 0
  done 2>/dev/null
  return 1
}

lock() { # lock FILE DATA: hold an exclusive lock on fd 8 for the rest of the script
  exec 8>"$1"
  command -v flock >/dev/null || return 0
  flock -n 8 && return 0
  local pid i
  if pid=$(server_pid "$2") && holds_lock "$pid" "$1"; then
    log "the lock $1 is held by the server (pid $pid) itself; going on without it"
    return 0
  fi
  log "another start/stop on ${1%/*} is running; waiting for it"
  for ((i = 0; i < ${LOCK_TIMEOUT:-300}; i++)); do
    flock -w 1 8 && return 0
    if pid=$(server_pid "$2") && holds_lock "$pid" "$1"; then
      log "the lock $1 is held by the server (pid $pid) itself; going on without it"
      return 0
    fi
  done
  die "gave up waiting for the lock on $1"
}

# ---------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------
cmd_start() {
  local bindir pgdir data t0
  t0=$(now_us)
  bindir=$(find_bindir)
  pgdir=$(state_pg_dir "$1")
  data=$pgdir/data
  lock "$pgdir/.lock" "$data"

  if server_pid "$data" >/dev/null && [[ -s $pgdir/database_url ]]; then
    log "already running (pid $(server_pid "$data"))"
    cat "$pgdir/database_url"
    return 0
  fi
  if server_pid "$data" >/dev/null; then
    die "a server (pid $(server_pid "$data")) runs on $data but its start never finished; run: $0 stop $1"
  fi
  rm -f "$pgdir/database_url" "$pgdir/port"

  if [[ ! -f $data/PG_VERSION ]]; then
    rm -rf "$data"
    # shellcheck disable=SC2086  # INITDB_EXTRA_OPTS is a list of options
    if ! as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C \
        ${INITDB_EXTRA_OPTS:-} >"$pgdir/initdb.log" 2>&1; then
      tail -n 30 "$pgdir/initdb.log" >&2
      die "initdb failed (log: $pgdir/initdb.log)"
    fi
    log "initialised $data with $bindir/initdb in $(elapsed "$t0")s"
  fi

  local attempt port sockdir rc
  for attempt in 1 2 3; do
    if ((attempt == 1)) && [[ -s $pgdir/last_port ]]; then
      port=$(<"$pgdir/last_port")
    else
      port=$(free_port)
    fi
    # Unix socket paths are limited to ~107 bytes; fall back to a short private directory.
    sockdir=$pgdir/run
    if ((${#sockdir} + 16 > 100)); then
      sockdir=$(mktemp -d "${TMPDIR:-/tmp}/order-cases-pg.XXXXXX")
      printf '%s\n' "$sockdir" >"$pgdir/sockdir.tmp"
    fi
    mkdir -p "$sockdir"
    if is_root; then chown "$PG_USER:" "$sockdir"; fi
    chmod 700 "$sockdir"

    rc=0
    # autovacuum_naptime 10s: the service's queue tables are vacuumed soon after a
    # backlog drains (docs/database-role.md recommends it for any deployment)
    # The server inherits pg_ctl's descriptors: close all but 0-2 first (our lock on fd 8,
    # a caller's pipe), or the server would hold them for its whole life.
    # shellcheck disable=SC2016  # expanded by the inner bash
    as_pg bash -c 'for f in /proc/$$/fd/*; do n=${f##*/}; if [[ $n =~ ^[0-9]+$ ]] && ((n > 2)); then eval "exec $n>&-"; fi; done 2>/dev/null; exec "$@"' pg_ctl-start \
      "$bindir/pg_ctl" -D "$data" -l "$pgdir/postgres.log" -w -t "${PG_START_TIMEOUT:-60}" \
      -o "-p $port -k '$sockdir' -c listen_addresses=127.0.0.1 -c max_connections=200 -c autovacuum_naptime=10s ${PG_EXTRA_OPTS:-}" \
      start >"$pgdir/pg_ctl.log" 2>&1 || rc=$?
    if ((rc == 0)); then break; fi
    if ((attempt < 3)) && tail -n 20 "$pgdir/postgres.log" 2>/dev/null | grep -q 'could not bind\|already in use'; then
      log "port $port taken in the meantime; retrying with another"
      continue
    fi
    cat "$pgdir/pg_ctl.log" >&2 || true
    log "--- last lines of $pgdir/postgres.log ---"
    tail -n 30 "$pgdir/postgres.log" >&2 || true
    die "pg_ctl start failed (log: $pgdir/postgres.log)"
  done

  local exists
  exists=$(psql_cmd "$bindir" "$port" "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'") ||
    die "cannot connect to the new server on 127.0.0.1:$port (log: $pgdir/postgres.log)"
  if [[ $exists != 1 ]]; then
    psql_cmd "$bindir" "$port" "CREATE DATABASE \"$PG_DATABASE\"" >/dev/null ||
      die "CREATE DATABASE $PG_DATABASE failed"
  fi

  local url=postgresql://postgres@127.0.0.1:$port/$PG_DATABASE
  printf '%s\n' "$port" >"$pgdir/port"
  printf '%s\n' "$port" >"$pgdir/last_port"
  printf '%s\n' "$url" >"$pgdir/database_url"
  log "PostgreSQL $("$bindir/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p') ready on 127.0.0.1:$port (socket dir $sockdir) in $(elapsed "$t0")s"
  printf '%s\n' "$url"
}

# ---------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------
cmd_stop() {
  local pgdir data pid bindir
  if [[ ! -d $1/postgres ]]; then
    log "not running (no $1/postgres)"
    return 0
  fi
  pgdir=$(cd "$1/postgres" && pwd -P)
  data=$pgdir/data
  lock "$pgdir/.lock" "$data"
  if ! pid=$(server_pid "$data"); then
    log "not running"
  else
    local t0 timeout=${PG_STOP_TIMEOUT:-60}
    t0=$(now_us)
    bindir=$(search_bindir || true)
    if [[ -z $bindir ]] || ! as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t "$timeout" stop >"$pgdir/pg_ctl.log" 2>&1; then
      # E.g. the server user can no longer reach the data directory: signal directly.
      [[ -f $pgdir/pg_ctl.log ]] && cat "$pgdir/pg_ctl.log" >&2
      log "pg_ctl stop did not work; sending SIGINT (fast shutdown) to pid $pid"
      kill -INT "$pid" 2>/dev/null || true
      local i
      for ((i = 0; i < timeout * 10; i++)); do
        server_pid "$data" >/dev/null || break
        sleep 0.1
      done
      if server_pid "$data" >/dev/null; then
        log "still running after ${timeout}s; sending SIGQUIT (immediate shutdown)"
        kill -QUIT "$pid" 2>/dev/null || true
        sleep 2
      fi
    fi
    log "stopped PostgreSQL pid $pid in $(elapsed "$t0")s"
  fi
  if [[ -s $pgdir/sockdir.tmp ]]; then
    local s
    s=$(<"$pgdir/sockdir.tmp")
    [[ $s == */order-cases-pg.* ]] && rm -rf "$s"
    rm -f "$pgdir/sockdir.tmp"
  fi
  rm -f "$pgdir/database_url" "$pgdir/port"
}

main() {
  (($# == 2)) || usage
  [[ -n $2 ]] || die "STATE_DIR is empty"
  case $1 in
    start | stop) "cmd_$1" "$2" ;;
    *)
      log "unknown command: $1"
      usage
      ;;
  esac
}

main "$@"
