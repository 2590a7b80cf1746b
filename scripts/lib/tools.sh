# shellcheck shell=bash
# Finding the tool binaries: SCHEMA_RESTORE_BIN when set (a directory holding them, e.g. an
# install or a CI build), else this checkout's cargo target directory (as cargo metadata says,
# so CARGO_TARGET_DIR is honoured; the newer of release and debug), else PATH.
# Needs lib/common.sh sourced first.

readonly TOOLS_NAMES=(snapshot-pick dump-validate pg-preflight rowcount-report schema-swap svc-verify)

# tools::_has_all DIR: every tool binary is in DIR.
tools::_has_all() {
  local dir="$1" name
  for name in "${TOOLS_NAMES[@]}"; do
    [[ -x "$dir/$name" ]] || return 1
  done
}

# tools::target_dir ROOT: cargo's target directory for the workspace at ROOT (empty if unknown).
tools::target_dir() {
  local root="$1"
  command -v cargo >/dev/null 2>&1 || return 0
  cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" 2>/dev/null |
    jq -r '.target_directory // empty' || true
}

# tools::locate ROOT: prints the directory holding the tools, or dies saying how to build them.
tools::locate() {
  local root="$1" target dir best=""
  if [[ -n "${SCHEMA_RESTORE_BIN:-}" ]]; then
    tools::_has_all "$SCHEMA_RESTORE_BIN" ||
      die "SCHEMA_RESTORE_BIN='$SCHEMA_RESTORE_BIN' does not hold all of: ${TOOLS_NAMES[*]}"
    echo "$SCHEMA_RESTORE_BIN"
    return
  fi
  target="$(tools::target_dir "$root")"
  if [[ -n "$target" ]]; then
    for dir in "$target/release" "$target/debug"; do
      tools::_has_all "$dir" || continue
      # The most recently built profile wins: an old release build must not shadow today's.
      if [[ -z "$best" || "$dir/schema-swap" -nt "$best/schema-swap" ]]; then best="$dir"; fi
    done
  fi
  if [[ -z "$best" ]] && dir="$(command -v schema-swap 2>/dev/null)"; then
    dir="$(dirname "$dir")"
    if tools::_has_all "$dir"; then best="$dir"; fi
  fi
  [[ -n "$best" ]] ||
    die "the tools are not built: run 'cargo build --release' in $root, or set SCHEMA_RESTORE_BIN to the directory holding them"
  echo "$best"
}
