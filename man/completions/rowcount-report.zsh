#compdef rowcount-report

autoload -U is-at-least

_rowcount-report() {
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
'*--schema=[Count every table of this schema (repeatable); default the record'\''s schema]:NAME:_default' \
'*--table=[Count only tables matching \[SCHEMA.\]NAME, with * and ? wildcards and "..." for literal names (repeatable). Without SCHEMA\: in the --schema(s), else in every schema]:PATTERN:_default' \
'--jobs=[Connections counting in parallel, all in one snapshot; default the number of cores]:N:_default' \
'--label=[Store the counts under .rowcounts.<LABEL>, e.g. pre or post]:LABEL:_default' \
'--compare=[Compare with another label of the record, '\''dump'\'' (the dump section'\''s counts), or FILE (an earlier record or CSV of this tool). A value is a FILE when it names an existing file, contains a '\''/'\'', or ends in .json or .csv]:LABEL|dump|FILE:_default' \
'--compare-label=[With --compare FILE holding a record with several labels\: the one to compare with]:LABEL:_default' \
'(--compare --estimate)--diff-schema=[Compare the rows of --schema with those of the schema OTHER, table by table\: the rows only in one, only in the other, and changed (same key, different row), by primary key (or a unique key of NOT NULL columns; else by whole rows, each with its multiplicity), exactly, from one snapshot, over --jobs connections. After a swap, the live schema against its <schema>_prev_<time> says which writes the restore set aside]:OTHER:_default' \
'--database=[The database to count in; default the record'\''s database, else the connection'\''s]:NAME:_default' \
'--format=[What to print on stdout]:FORMAT:((json\:"The record, with the counts under .rowcounts.<label> (for pipelines)"
csv\:"schema,table,rows,exact\[,compare_rows,difference,status\] (readable again by --compare FILE)"
markdown\:"The postmortem'\''s table"
table\:"An aligned table for people"))' \
'--dsn=[Connection string\: key=value pairs or a postgresql\:// URI \[default\: PG* variables\]]:CONNINFO|URI:_default' \
'--max-record=[The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables]:SIZE:_default' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'(--estimate)--exact[Exact counts, SELECT count(*) (the default)]' \
'--estimate[Planner estimates (pg_class.reltuples) instead of counting\: instant, labelled as estimates]' \
'--expect-equal[Fail when any table differs from --compare (added, removed, changed or unknown), or with --diff-schema when any row or table differs]' \
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

(( $+functions[_rowcount-report_commands] )) ||
_rowcount-report_commands() {
    local commands; commands=()
    _describe -t commands 'rowcount-report commands' commands "$@"
}

if [ "$funcstack[1]" = "_rowcount-report" ]; then
    _rowcount-report "$@"
else
    compdef _rowcount-report rowcount-report
fi
