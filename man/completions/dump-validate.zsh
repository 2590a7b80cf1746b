#compdef dump-validate

autoload -U is-at-least

_dump-validate() {
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
'*--schema=[The schema that must be in the dump (repeatable); default the record'\''s schema]:NAME:_default' \
'*--require-table=[A table that must be present with rows\: NAME in the schema, or SCHEMA.NAME (repeatable)]:NAME:_default' \
'--min-size=[Smaller than this is no dump at all (fail)]:SIZE:_default' \
'--expect-size=[The size range healthy dumps have, e.g. 500KiB..5MiB (warn outside it)]:MIN..MAX:_default' \
'--before=[The corruption time\: the dump must be older (RFC 3339, '\''YYYY-MM-DD HH\:MM\[\:SS\]'\'' in --tz, '\''90m ago'\''); default the time in the record'\''s snapshot section]:TIME:_default' \
'--tz=[Time zone for a wall-clock --before; default the local zone]:ZONE:_default' \
'--dump-tz=[The zone of the host that ran pg_dump\: the archive keeps its local time without one]:ZONE:_default' \
'--jobs=[Threads that read data blocks; default the number of cores]:N:_default' \
'--format=[What to print on stdout]:FORMAT:((json\:"The record, with this tool'\''s '\''dump'\'' section (for pipelines)"
table\:"A table for people\: header, tables and row counts, checks"))' \
'--max-record=[The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables]:SIZE:_default' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'--quick[Read the header and table of contents only; skip the data blocks and row counts]' \
'--new-record[Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record]' \
'-q[Print only failures on stderr]' \
'--quiet[Print only failures on stderr]' \
'--pretty[Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
':dump -- The dump\: a custom-format file or a directory-format directory:_files' \
&& ret=0
}

(( $+functions[_dump-validate_commands] )) ||
_dump-validate_commands() {
    local commands; commands=()
    _describe -t commands 'dump-validate commands' commands "$@"
}

if [ "$funcstack[1]" = "_dump-validate" ]; then
    _dump-validate "$@"
else
    compdef _dump-validate dump-validate
fi
