# shellcheck shell=bash
# Drill mode's disposable PostgreSQL: a cluster of a major version that can take the dump,
# with the database and the roles the dump needs, removed afterwards. Needs lib/common.sh and
# lib/pgcluster.sh sourced first.

DRILL_CLUSTER_DIR=""
DRILL_CLUSTER_MAJOR=""

# drill::choose_major WANTED SOURCE_MAJOR: WANTED if given, else the dump's source server major
# or the next newer one installed (a server older than the dump's source may not take it).
drill::choose_major() {
  local wanted="$1" source="$2" major
  if [[ -n "$wanted" ]]; then
    [[ -x "$(pgcluster::bindir "$wanted")/initdb" ]] || die "PostgreSQL $wanted is not installed: run scripts/install-deps or pick another --pg-major"
    echo "$wanted"
    return
  fi
  [[ "$source" =~ ^[0-9]+$ ]] || source=15
  for major in 15 16 17 18; do
    if ((major >= source)) && [[ -x "$(pgcluster::bindir "$major")/initdb" ]]; then
      echo "$major"
      return
    fi
  done
  die "no PostgreSQL $source or newer is installed for the drill: run scripts/install-deps"
}

# drill::start MAJOR DATABASE ROLE...: starts the cluster (PGHOST, PGPORT, PGUSER exported),
# creates the database and the roles. The operator's own PG* settings must not leak in: the
# drill never touches a real server.
drill::start() {
  local major="$1" database="$2" role var psql
  shift 2
  for var in $(compgen -e); do
    if [[ "$var" == PG* ]]; then unset "$var"; fi
  done
  DRILL_CLUSTER_MAJOR="$major"
  DRILL_CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/restore-drill-pg.XXXXXX")"
  # The socket lives in the cluster's own directory: any port is free there.
  pgcluster::start "$major" "$DRILL_CLUSTER_DIR" 5432
  export PGDATABASE=postgres
  psql="$(pgcluster::bindir "$major")/psql"
  for role in "$@"; do
    # psql quotes :'name' as a literal and \gexec runs the generated CREATE ROLE with the name
    # quoted as an identifier: a role name from the dump never becomes SQL text.
    printf '%s\n' "SELECT format('CREATE ROLE %I', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \\gexec" |
      "$psql" -X -q -v ON_ERROR_STOP=1 -v name="$role" >/dev/null
  done
  ok "disposable PostgreSQL $major cluster in $DRILL_CLUSTER_DIR, roles: ${*:-none}; database $database is created by pg-preflight"
}

# drill::stop: stops and removes the cluster; quiet when none was started.
drill::stop() {
  [[ -n "$DRILL_CLUSTER_DIR" ]] || return 0
  pgcluster::stop "$DRILL_CLUSTER_MAJOR" "$DRILL_CLUSTER_DIR"
  rm -rf -- "$DRILL_CLUSTER_DIR"
  if [[ -e "$DRILL_CLUSTER_DIR" ]]; then
    warn "could not remove the drill cluster's directory $DRILL_CLUSTER_DIR"
  else
    ok "disposable cluster stopped and removed ($DRILL_CLUSTER_DIR)"
  fi
}
