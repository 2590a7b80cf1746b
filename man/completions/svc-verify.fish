complete -c svc-verify -l checks -d 'A JSON file of checks (and vars)' -r -F
complete -c svc-verify -l check -d 'One ad hoc check: [METHOD] URL [KEY=VALUE ...] (repeatable); see --help for the keys' -r
complete -c svc-verify -l var -d 'A URL placeholder {NAME} filled by a SQL query returning one value (repeatable), e.g. --var \'latest_run_id=SELECT max(id) FROM trading.runs\'' -r
complete -c svc-verify -l wait -d 'Keep retrying failing checks, with backoff, for this long, e.g. 60s (services restarting after a restore); 0s tries each once' -r
complete -c svc-verify -l timeout -d 'The time limit of one attempt of a check (connect, answer and body), unless the check sets its own' -r
complete -c svc-verify -l max-body -d 'The largest body read, unless the check sets its own max_body; a larger one fails' -r
complete -c svc-verify -l cacert -d 'Also trust the CA certificates in this PEM file (the system\'s roots are always trusted)' -r -F
complete -c svc-verify -l rowcount-label -d 'The label of the row counts in the record to compare with (.rowcounts.<LABEL>); the dump section\'s counts are used for tables it does not hold' -r
complete -c svc-verify -l database -d 'The database SQL values are read from; default the record\'s database, else the connection\'s' -r
complete -c svc-verify -l dsn -d 'Connection string: key=value pairs or a postgresql:// URI [default: PG* variables]' -r
complete -c svc-verify -l max-record -d 'The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables' -r
complete -c svc-verify -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c svc-verify -l follow-redirects -d 'Follow redirects (up to 10), unless a check says otherwise. By default a redirect is the answer, and fails a check that expects 200'
complete -c svc-verify -l new-record -d 'Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record'
complete -c svc-verify -s q -l quiet -d 'Print only failures on stderr'
complete -c svc-verify -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c svc-verify -s h -l help -d 'Print help (see more with \'--help\')'
complete -c svc-verify -s V -l version -d 'Print version'
