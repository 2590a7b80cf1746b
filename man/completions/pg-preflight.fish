complete -c pg-preflight -l schema -d 'The schema to be restored; default the record\'s schema' -r
complete -c pg-preflight -l database -d 'The target database; default the record\'s database, else the connection\'s (--dsn, PGDATABASE)' -r
complete -c pg-preflight -l role -d 'A role the restored objects need (repeatable); default the dump section\'s roles' -r
complete -c pg-preflight -l wait -d 'How long to keep retrying a server that is not accepting connections yet, e.g. 30s' -r
complete -c pg-preflight -l maintenance-db -d 'The database to connect to for checking and creating the target' -r
complete -c pg-preflight -l dump -d 'The dump to be restored, read for what it needs of the target (extensions, objects of other schemas, publications); default the record\'s dump section' -r -F
complete -c pg-preflight -l table -d 'The restore will replace only this table (schema-swap --table; repeatable): check that the dump holds it as a table of the schema' -r
complete -c pg-preflight -l into -d 'The restore will make a copy as the new schema NAME (schema-swap --into): check that NAME is free' -r
complete -c pg-preflight -l pg-bindir -d 'Look for pg_restore only in this directory (repeatable); default PATH, /usr/lib/postgresql/*/bin and /opt/schema-restore/pg/*/bin' -r -F
complete -c pg-preflight -l dsn -d 'Connection string: key=value pairs or a postgresql:// URI [default: PG* variables]' -r
complete -c pg-preflight -l max-record -d 'The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables' -r
complete -c pg-preflight -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c pg-preflight -l create-database -d 'Create the target database when it does not exist (the only write this tool does)'
complete -c pg-preflight -l merge-missing -d 'With --table: the restore will put missing rows back (schema-swap --merge-missing): check that each table is live with a primary key or a unique key of NOT NULL columns'
complete -c pg-preflight -l new-record -d 'Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record'
complete -c pg-preflight -s q -l quiet -d 'Print only failures on stderr'
complete -c pg-preflight -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c pg-preflight -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pg-preflight -s V -l version -d 'Print version'
