# shellcheck shell=bash
# What a restore leaves for people: the postmortem draft and the drill log (markdown rendered
# from the record with jq), the node_exporter textfile metric of a drill, and the state of the
# backup timer (runbook step 7). Needs lib/common.sh sourced first.

# One jq program renders both documents; $kind is "postmortem" or "drill". Inputs: the record
# (or {} when no tool ran), $timings (the script's per-step wall times) and $meta (the run).
# shellcheck disable=SC2016 # jq's $variables, not the shell's
readonly REPORT_JQ='
def secs: if . == null then "–" else ((. / 100 | round) as $d | "\($d / 10 | floor).\($d % 10) s") end;
def cell: if . == null then "–" else tostring end;
def key: "\(.schema).\(.name)";
def is_section: type == "object" and has("tool") and has("checks");
def rows_of($list; $name): [$list[] | select(key == $name) | .rows] | first;
. as $r
| ($r.rowcounts.pre.tables // []) as $pre
| ($r.rowcounts.post.tables // []) as $post
| ($r.dump.tables // []) as $dump
| ([$pre[], $post[], $dump[]] | map(key) | unique) as $names
# rowcounts holds one section per label and repeats the latest one at its top: list the labels.
| [ $r | paths(is_section) | select(. as $p | $r | getpath($p) | [.[] | select(is_section)] | length == 0) ] as $section_paths
| [ $section_paths[] as $p | ($r | getpath($p)) as $s | $s.checks[]? | select(.status != "ok")
    | "- **\(.status)** `\($p | join("."))` \(.name): \(.detail)" ] as $mismatches
| ($r.snapshot.pick // null) as $pick
| [
  (if $kind == "drill" then "# Restore drill \($meta.date): schema `\($meta.schema)`"
   else "# Postmortem draft: restore of schema `\($meta.schema)` (\($meta.date))" end),
  "",
  (if $kind == "drill" then "Drilled end to end against a disposable PostgreSQL \($meta.cluster_major // "?") cluster (\($meta.cluster_removed)), with `scripts/restore-schema --drill`. A backup that has never been restored is a placebo."
   else "Drafted by `scripts/restore-schema`; fill in the cause, the impact and the follow-ups." end),
  "",
  "- **Verdict:** \(if $meta.status == "succeeded" then "PASS: restored and verified" elif ($meta.stopped_by // "") != "" then "FAIL: stopped by \($meta.stopped_by) during step `\($meta.failed_step)` (exit \($meta.exit_code)): \($meta.hint)" else "FAIL at step `\($meta.failed_step)` (exit \($meta.exit_code)): \($meta.hint)" end)",
  "- **Snapshot:** \(if $pick then "`\($pick.short_id)` (\($pick.id)), taken \($pick.time) on \($pick.host), tags \($pick.tags | join(","))" elif $meta.dump_file != "" then "none: started from the dump at hand `\($meta.dump_file)`" else "none picked" end)",
  "- **Dump:** \(if $r.dump then "`\($meta.dump_path)`, \($r.dump.size_bytes) bytes, pg_dump \($r.dump.pg_dump_version), written \($r.dump.created.utc // "?")" else "not read" end)",
  "- **Database:** `\($r.database // $meta.database // "?")`, schema `\($meta.schema)`",
  "- **Time to restore:** \($meta.total_ms | secs) (the manual runbook budgets about 15 minutes)",
  (if $r.swap.previous then "- **Previous schema kept as:** `\($r.swap.previous)`; roll back with `\($r.swap.rollback.command // "schema-swap --rollback")`" else empty end),
  "- **Record:** `\($meta.record)`",
  "",
  "## Row counts",
  "",
  (if ($names | length) == 0 then "No tables were counted." else
    ("| table | pre-restore | post-restore | in the dump |", "|---|---:|---:|---:|",
     ($names[] as $n | "| \($n) | \(rows_of($pre; $n) | cell) | \(rows_of($post; $n) | cell) | \(rows_of($dump; $n) | cell) |"),
     "| **total** | \($r.rowcounts.pre.total_rows | cell) | \($r.rowcounts.post.total_rows | cell) | \([$dump[].rows] | add | cell) |")
   end),
  "",
  (if $r.rowcounts.setaside.diff then
     ($r.rowcounts.setaside.diff as $d
      | ("## Writes the restore set aside", "",
         "The rows of the schema as it was before the restore, kept in `\($d.other_schema)`, that the restored one does not hold: written after the dump (or changed since), and the rows the damage had taken that came back. Take rows back by hand from `\($d.other_schema)`.", "",
         "| table | key | only in the set-aside schema | changed since the dump | only in the restored schema |", "|---|---|---:|---:|---:|",
         ($d.tables[] | "| \(.name) | \(.key // ["(whole rows)"] | join(", ")) | \(.rows_only_in_other) | \(.rows_changed | cell) | \(.rows_only_in_schema) |"),
         ""))
   else empty end),
  (if $r.swap then
     ("## What the swap did besides restoring the entries of the schema", "",
      (if $r.swap.into then "- **A copy, beside the live schema:** restored as `\($r.swap.into)`; the live schema was not changed" else empty end),
      (($r.swap.table_restore // null) | if . then "- **Tables restored:** \([.tables[].name] | join(", ")); set aside: \(.set_aside | if length == 0 then "none (missing live)" else join(", ") end); foreign keys re-created: \([.foreign_keys[] | "\(.table).\(.name)\(if .not_valid then " (NOT VALID: \(.violations) live rows violate it)" else "" end)"] | if length == 0 then "none" else join(", ") end); views re-created: \(.views + .materialized_views | if length == 0 then "none" else join(", ") end)" else empty end),
      (($r.swap.merged // [])[] | "- **Rows put back into `\(.table)`:** \(.came_back) of \(.dump_rows | cell) in the dump (by \(.key | join(", "))); \(.already_live | cell) were live already and were left as they are"),
      "- **The schema itself:** \($r.swap.schema_metadata // {} | if .source == "dump" then "created as the dump says (owner, comment, grants)" elif .source == "live" or .source == "initdb" then "given the owner `\(.owner)`, ACL `\(.acl // "default")`, comment \(.comment // "none" | tojson) of the \(.source) schema\(if .initial_privileges_written == false then " (its pg_init_privs row could not be written: not a superuser)" else "" end)" elif .source == "none" then "created bare (no live schema, none in the dump)" else "not recorded" end)",
      (($r.swap.extensions // [])[] | "- **Extension `\(.name)`:** \(if .action == "move" then "moved into the restored schema" elif .action == "create" then "created by the dump" else "refused: \(.reason)" end)"),
      (($r.swap.settings_left_out // [])[] | "- **Setting left out:** `\(.)` (pg_restore writes it, this server has no such setting)"),
      (($r.swap.carried_over // [])[] | "- **Carried over:** `\(.)`"),
      "")
   else empty end),
  "## Timings",
  "",
  "| step | wall time | exit |", "|---|---:|---:|",
  ($timings[] | "| \(.step) | \(.ms | secs) | \(.exit) |"),
  "| **total** | \($meta.total_ms | secs) | \($meta.exit_code) |",
  "",
  (if $kind == "drill" then "## Checks" else "## What did not match" end),
  "",
  (if ($mismatches | length) == 0 then "Every check of every step was ok." else $mismatches[] end),
  (if $kind == "drill" then
     ("", "Every section: " + ([$section_paths[] as $p | ($r | getpath($p)) as $s | "`\($p | join("."))` \(if $s.ok then "ok" else "FAILED" end) (\($s.checks | length) checks)"] | join(", ")))
   else empty end),
  "",
  "## Backup timer (runbook step 7)",
  "",
  $meta.timer,
  (if $kind == "postmortem" then ("", "## Runbook differences", "", "- (what in the runbook did not match reality)") else empty end)
] | .[]
'

# report::timings_json TSV: the step timings (name, ms, exit) as a JSON array.
report::timings_json() {
  jq -Rn '[inputs | select(length > 0) | split("\t") | {step: .[0], ms: (.[1] | tonumber), exit: (.[2] | tonumber)}]' <"$1"
}

# report::render KIND RECORD TIMINGS_TSV META_JSON OUT: writes the markdown document to OUT.
report::render() {
  local kind="$1" record="$2" timings="$3" meta="$4" out="$5" input
  input="$record"
  # No tool ran (e.g. restic failed): render from an empty record.
  if [[ ! -s "$record" ]]; then input=/dev/null; fi
  if ! jq -r --arg kind "$kind" --argjson timings "$(report::timings_json "$timings")" \
    --argjson meta "$meta" -n '(input? // {}) as $r | $r | '"$REPORT_JQ" "$input" >"$out.tmp"; then
    rm -f "$out.tmp"
    return 1
  fi
  mv -f "$out.tmp" "$out"
}

# report::metrics FILE SUCCESS(0|1) DURATION_SECONDS: the node_exporter textfile collector's
# file, written to a temporary name in the same directory and renamed, so the collector never
# reads half a file. The last success time is carried over from the previous file on failure.
report::metrics() {
  local file="$1" success="$2" duration="$3" now last_success=""
  now="$(date +%s)"
  if ((success == 1)); then
    last_success="$now"
  elif [[ -r "$file" ]]; then
    last_success="$(awk '$1 == "schema_restore_drill_last_success_timestamp_seconds" {print $2}' "$file")"
  fi
  mkdir -p "$(dirname "$file")"
  {
    echo '# HELP schema_restore_drill_last_run_timestamp_seconds Unix time the last schema restore drill finished.'
    echo '# TYPE schema_restore_drill_last_run_timestamp_seconds gauge'
    echo "schema_restore_drill_last_run_timestamp_seconds $now"
    echo '# HELP schema_restore_drill_success Whether the last schema restore drill restored and verified the schema (1) or not (0).'
    echo '# TYPE schema_restore_drill_success gauge'
    echo "schema_restore_drill_success $success"
    echo '# HELP schema_restore_drill_duration_seconds Wall time of the last schema restore drill.'
    echo '# TYPE schema_restore_drill_duration_seconds gauge'
    echo "schema_restore_drill_duration_seconds $duration"
    if [[ -n "$last_success" ]]; then
      echo '# HELP schema_restore_drill_last_success_timestamp_seconds Unix time of the last drill that succeeded.'
      echo '# TYPE schema_restore_drill_last_success_timestamp_seconds gauge'
      echo "schema_restore_drill_last_success_timestamp_seconds $last_success"
    fi
  } >"$file.$$.tmp"
  mv -f "$file.$$.tmp" "$file"
}

# report::backup_timer PATTERN: runbook step 7, "is the next backup coming?". Prints one line
# per timer for people (stderr) and the same as markdown on stdout for the reports.
report::backup_timer() {
  local pattern="$1" out unit active next
  if ! command -v systemctl >/dev/null 2>&1; then
    warn "systemctl is not on this host: cannot tell whether a backup timer ($pattern) is active; check it where restic runs"
    echo "Not checked: no systemctl on this host. Check the timer ($pattern) where restic runs."
    return
  fi
  if ! out="$(systemctl list-timers "$pattern" --all --no-pager --no-legend 2>&1)"; then
    out="${out%%$'\n'*}"
    warn "systemctl cannot list timers here ($out): check the backup timer ($pattern) where restic runs"
    echo "Not checked: systemctl cannot list timers here ($out)."
    return
  fi
  if [[ -z "$out" ]]; then
    warn "no systemd timer matches '$pattern' on this host: hourly backups are not scheduled here"
    echo "No timer matches \`$pattern\` on this host: backups are not scheduled here."
    return
  fi
  while read -r unit; do
    [[ -n "$unit" ]] || continue
    active="$(systemctl is-active "$unit" 2>/dev/null || true)"
    next="$(systemctl show "$unit" -p NextElapseUSecRealtime --value 2>/dev/null || true)"
    if [[ "$active" == active ]]; then
      ok "backup timer $unit is active; next snapshot due ${next:-(unknown)}"
    else
      warn "backup timer $unit is ${active:-unknown}: no new snapshots will be taken"
    fi
    echo "- \`$unit\`: ${active:-unknown}, next run ${next:-unknown}"
  done < <(awk '{for (i = 1; i <= NF; i++) if ($i ~ /\.timer$/) print $i}' <<<"$out")
}
