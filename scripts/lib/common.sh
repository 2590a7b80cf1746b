# shellcheck shell=bash
# Helpers shared by every script in scripts/: runbook-style messages on stderr,
# an ERR trap that names the failing line, and small guards.
#
# Source it, then call `common::init` once at the top of main.

# Colour only on a terminal and only when NO_COLOR is unset (https://no-color.org).
common::_colour() {
  [[ -t 2 && -z "${NO_COLOR:-}" ]]
}

common::_say() {
  local tag="$1" colour="$2"
  shift 2
  if common::_colour; then
    printf '\033[%sm%s\033[0m %s\n' "$colour" "$tag" "$*" >&2
  else
    printf '%s %s\n' "$tag" "$*" >&2
  fi
}

info() { common::_say '[INFO ]' '1' "$@"; }
ok() { common::_say '[ OK ]' '32' "$@"; }
warn() { common::_say '[WARN ]' '33' "$@"; }
err() { common::_say '[FAIL ]' '31' "$@"; }

die() {
  err "$@"
  exit 1
}

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "command '$1' not found: $2"
}

# Print where a script failed, so an operator knows which step to look at.
common::_on_err() {
  local status=$? line="$1" cmd="$2"
  err "${BASH_SOURCE[1]:-$0}:${line}: '${cmd}' exited with ${status}"
}

common::init() {
  set -o errexit -o nounset -o pipefail -o errtrace
  trap 'common::_on_err "${LINENO}" "${BASH_COMMAND}"' ERR
}
