#compdef pg-preflight

autoload -U is-at-least

_pg-preflight() {
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
'--schema=[The schema to be restored; default the record'\''s schema]:NAME:_default' \
'--database=[The target database; default the record'\''s database, else the connection'\''s (--dsn, PGDATABASE)]:NAME:_default' \
'*--role=[A role the restored objects need (repeatable); default the dump section'\''s roles]:NAME:_default' \
'--wait=[How long to keep retrying a server that is not accepting connections yet, e.g. 30s]:DURATION:_default' \
'--maintenance-db=[The database to connect to for checking and creating the target]:NAME:_default' \
'--dump=[The dump to be restored, read for what it needs of the target (extensions, objects of other schemas, publications); default the record'\''s dump section]:FILE:_files' \
'*--table=[The restore will replace only this table (schema-swap --table; repeatable)\: check that the dump holds it as a table of the schema]:NAME:_default' \
'--into=[The restore will make a copy as the new schema NAME (schema-swap --into)\: check that NAME is free]:NAME:_default' \
'*--pg-bindir=[Look for pg_restore only in this directory (repeatable); default PATH, /usr/lib/postgresql/*/bin and /opt/schema-restore/pg/*/bin]:DIR:_files' \
'--dsn=[Connection string\: key=value pairs or a postgresql\:// URI \[default\: PG* variables\]]:CONNINFO|URI:_default' \
'--max-record=[The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables]:SIZE:_default' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'--create-database[Create the target database when it does not exist (the only write this tool does)]' \
'--merge-missing[With --table\: the restore will put missing rows back (schema-swap --merge-missing)\: check that each table is live with a primary key or a unique key of NOT NULL columns]' \
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

(( $+functions[_pg-preflight_commands] )) ||
_pg-preflight_commands() {
    local commands; commands=()
    _describe -t commands 'pg-preflight commands' commands "$@"
}

if [ "$funcstack[1]" = "_pg-preflight" ]; then
    _pg-preflight "$@"
else
    compdef _pg-preflight pg-preflight
fi
