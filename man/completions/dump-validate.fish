complete -c dump-validate -l schema -d 'The schema that must be in the dump (repeatable); default the record\'s schema' -r
complete -c dump-validate -l require-table -d 'A table that must be present with rows: NAME in the schema, or SCHEMA.NAME (repeatable)' -r
complete -c dump-validate -l min-size -d 'Smaller than this is no dump at all (fail)' -r
complete -c dump-validate -l expect-size -d 'The size range healthy dumps have, e.g. 500KiB..5MiB (warn outside it)' -r
complete -c dump-validate -l before -d 'The corruption time: the dump must be older (RFC 3339, \'YYYY-MM-DD HH:MM[:SS]\' in --tz, \'90m ago\'); default the time in the record\'s snapshot section' -r
complete -c dump-validate -l tz -d 'Time zone for a wall-clock --before; default the local zone' -r
complete -c dump-validate -l dump-tz -d 'The zone of the host that ran pg_dump: the archive keeps its local time without one' -r
complete -c dump-validate -l jobs -d 'Threads that read data blocks; default the number of cores' -r
complete -c dump-validate -l format -d 'What to print on stdout' -r -f -a "json\t'The record, with this tool\'s \'dump\' section (for pipelines)'
table\t'A table for people: header, tables and row counts, checks'"
complete -c dump-validate -l max-record -d 'The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables' -r
complete -c dump-validate -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c dump-validate -l quick -d 'Read the header and table of contents only; skip the data blocks and row counts'
complete -c dump-validate -l new-record -d 'Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record'
complete -c dump-validate -s q -l quiet -d 'Print only failures on stderr'
complete -c dump-validate -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c dump-validate -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dump-validate -s V -l version -d 'Print version'
