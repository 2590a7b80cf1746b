#compdef svc-verify

autoload -U is-at-least

_svc-verify() {
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
'--checks=[A JSON file of checks (and vars)]:FILE:_files' \
'*--check=[One ad hoc check\: \[METHOD\] URL \[KEY=VALUE ...\] (repeatable); see --help for the keys]:SPEC:_default' \
'*--var=[A URL placeholder {NAME} filled by a SQL query returning one value (repeatable), e.g. --var '\''latest_run_id=SELECT max(id) FROM trading.runs'\'']:NAME=SQL:_default' \
'--wait=[Keep retrying failing checks, with backoff, for this long, e.g. 60s (services restarting after a restore); 0s tries each once]:DURATION:_default' \
'--timeout=[The time limit of one attempt of a check (connect, answer and body), unless the check sets its own]:DURATION:_default' \
'--max-body=[The largest body read, unless the check sets its own max_body; a larger one fails]:SIZE:_default' \
'--cacert=[Also trust the CA certificates in this PEM file (the system'\''s roots are always trusted)]:FILE:_files' \
'--rowcount-label=[The label of the row counts in the record to compare with (.rowcounts.<LABEL>); the dump section'\''s counts are used for tables it does not hold]:LABEL:_default' \
'--database=[The database SQL values are read from; default the record'\''s database, else the connection'\''s]:NAME:_default' \
'--dsn=[Connection string\: key=value pairs or a postgresql\:// URI \[default\: PG* variables\]]:CONNINFO|URI:_default' \
'--max-record=[The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables]:SIZE:_default' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'--follow-redirects[Follow redirects (up to 10), unless a check says otherwise. By default a redirect is the answer, and fails a check that expects 200]' \
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

(( $+functions[_svc-verify_commands] )) ||
_svc-verify_commands() {
    local commands; commands=()
    _describe -t commands 'svc-verify commands' commands "$@"
}

if [ "$funcstack[1]" = "_svc-verify" ]; then
    _svc-verify "$@"
else
    compdef _svc-verify svc-verify
fi
