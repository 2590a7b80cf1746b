# shellcheck shell=bash
# A disposable PostgreSQL cluster for scripts (benchmarks, fuzz corpora, demos): initdb into a
# directory, a server on a Unix socket there, as 'nobody' when run as root (initdb refuses root).
# Needs lib/common.sh sourced first.

# The bin/ directory of a major version: Debian's packages, else the PyPI wheels that
# scripts/install-deps unpacks.
pgcluster::bindir() {
  local major="$1"
  if [[ -x "/usr/lib/postgresql/$major/bin/postgres" ]]; then
    echo "/usr/lib/postgresql/$major/bin"
  else
    echo "${SCHEMA_RESTORE_PG_ROOT:-/opt/schema-restore/pg}/$major/bin"
  fi
}

pgcluster::_as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

# pgcluster::start MAJOR DIR PORT [postgres -c settings...]
# Starts a trust-authenticated cluster in DIR and exports PGHOST, PGPORT and PGUSER for it.
pgcluster::start() {
  local major="$1" dir="$2" port="$3"
  shift 3
  local bin opts="-c listen_addresses='' -c unix_socket_directories='$dir/sock' -p $port -c fsync=off"
  bin="$(pgcluster::bindir "$major")"
  [[ -x "$bin/initdb" ]] || die "PostgreSQL $major is not installed: run scripts/install-deps"
  mkdir -p "$dir/sock"
  if [[ $(id -u) -eq 0 ]]; then chown -R nobody:nogroup "$dir"; fi
  local setting
  for setting in "$@"; do opts+=" -c $setting"; done
  pgcluster::_as_server_user "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  pgcluster::_as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$opts" start >/dev/null
  export PGHOST="$dir/sock" PGPORT="$port" PGUSER=postgres
}

# pgcluster::stop MAJOR DIR: immediate stop; quiet if it is not running.
pgcluster::stop() {
  local bin
  bin="$(pgcluster::bindir "$1")"
  pgcluster::_as_server_user "$bin/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null 2>&1 || true
}
