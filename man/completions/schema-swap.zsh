#compdef schema-swap

autoload -U is-at-least

_schema-swap() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--schema=[The schema to replace; default the record'\''s schema]:NAME:_default' \
'--dump=[The dump\: a custom-format file or a directory-format directory; default the record'\''s dump section]:FILE:_files' \
'*--table=[Replace only this table of the live schema (repeatable), with everything that belongs to it (indexes, constraints, triggers, rules, policies, owned sequences and their values, statistics, comments, grants, partitions and children) and its rows; foreign keys of other tables that pointed to it and views that read it are re-created on the restored table. Every other object of the schema stays as it is live. The live table is set aside into <schema>_prev_<UTC time>]:NAME:_default' \
'--into=[Restore the dump'\''s schema (or, with --table, only those tables) as a new schema NAME beside the live one, to look before touching or to take rows back by hand. The live schema is not changed and no session ever sees it missing; NAME must not exist. Function bodies are text\: a copied function that names the schema still reads the live one]:NAME:_default' \
'--keep=[With --prune\: how many of the newest previous schemas to keep]:N:_default' \
'--older-than=[With --prune\: drop previous schemas set aside longer ago than this, e.g. 7d]:DURATION:_default' \
'--lock-timeout=[How long any statement that takes a lock (the swap, --drop-previous, --prune, --rollback) waits for it before giving up. At least 1ms\: 0 is refused, since PostgreSQL reads a lock_timeout of 0 as "wait for ever"]:DURATION:_default' \
'--maintenance-work-mem=[maintenance_work_mem for the restore'\''s session (index and key builds)]:SIZE:_default' \
'--work-mem=[work_mem for the restore'\''s session (foreign key validation, materialized view refresh)]:SIZE:_default' \
'--copy-format=[How table data goes to the server\: \`auto\` converts the dump'\''s COPY text to COPY'\''s binary form, which the server takes with far less work, for every table whose column types schema-swap knows, in UTF-8 dumps on PostgreSQL 12 and later (other tables go as text, and so does a table holding a value the converter is not sure of); \`text\` sends the dump'\''s text as it is]:FORMAT:(auto text)' \
'--jobs=[Threads that count the dump'\''s rows when the record has no counts; default the cores]:N:_default' \
'*--pg-bindir=[Look for pg_restore only in this directory (repeatable); default PATH, /usr/lib/postgresql/*/bin and /opt/schema-restore/pg/*/bin]:DIR:_files' \
'--dsn=[Connection string\: key=value pairs or a postgresql\:// URI \[default\: PG* variables\]]:CONNINFO|URI:_default' \
'--max-record=[The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables]:SIZE:_default' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'--merge-missing[With --table\: put back the dump'\''s rows that are missing live, by primary key (or a unique key whose columns are NOT NULL), with their original values, identity and serial columns included; no live row is changed or deleted, sequences are advanced past what came back, and foreign keys, checks and triggers apply as to any insert. The cure for an accidental DELETE. A table without such a key is refused]' \
'--fk-not-valid[With --table\: a re-created foreign key that live rows violate (rows written after the dump that reference rows the dump lacks) is made NOT VALID, with a warning that counts them, instead of rolling the restore back]' \
'-y[Skip the confirmation prompt (as RESTORE_SKIP_CONFIRM=1 does)]' \
'--yes[Skip the confirmation prompt (as RESTORE_SKIP_CONFIRM=1 does)]' \
'--dry-run[Print the plan (what is renamed, restored and counted) and change nothing]' \
'--drop-previous[After a verified commit, drop the previous schema (kept when anything outside depends on it)]' \
'--repoint-dependents[Recreate views outside the schema that read it, so they read the restored schema (in the same transaction); without it they keep reading the previous one]' \
'--rollback[Swap the newest previous schema back in, in one transaction (the current one is set aside)]' \
'--list[List the previous schemas kept, with their times and sizes]' \
'--prune[Drop previous schemas\: those beyond --keep, or older than --older-than]' \
'--no-freeze[Load tables with plain COPY instead of COPY FREEZE]' \
'--new-record[Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record]' \
'-q[Print only failures on stderr]' \
'--quiet[Print only failures on stderr]' \
'--pretty[Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
}

(( $+functions[_schema-swap_commands] )) ||
_schema-swap_commands() {
    local commands; commands=()
    _describe -t commands 'schema-swap commands' commands "$@"
}

if [ "$funcstack[1]" = "_schema-swap" ]; then
    _schema-swap "$@"
else
    compdef _schema-swap schema-swap
fi
