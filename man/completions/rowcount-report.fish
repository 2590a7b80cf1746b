complete -c rowcount-report -l schema -d 'Count every table of this schema (repeatable); default the record\'s schema' -r
complete -c rowcount-report -l table -d 'Count only tables matching [SCHEMA.]NAME, with * and ? wildcards and "..." for literal names (repeatable). Without SCHEMA: in the --schema(s), else in every schema' -r
complete -c rowcount-report -l jobs -d 'Connections counting in parallel, all in one snapshot; default the number of cores' -r
complete -c rowcount-report -l label -d 'Store the counts under .rowcounts.<LABEL>, e.g. pre or post' -r
complete -c rowcount-report -l compare -d 'Compare with another label of the record, \'dump\' (the dump section\'s counts), or FILE (an earlier record or CSV of this tool). A value is a FILE when it names an existing file, contains a \'/\', or ends in .json or .csv' -r
complete -c rowcount-report -l compare-label -d 'With --compare FILE holding a record with several labels: the one to compare with' -r
complete -c rowcount-report -l diff-schema -d 'Compare the rows of --schema with those of the schema OTHER, table by table: the rows only in one, only in the other, and changed (same key, different row), by primary key (or a unique key of NOT NULL columns; else by whole rows, each with its multiplicity), exactly, from one snapshot, over --jobs connections. After a swap, the live schema against its <schema>_prev_<time> says which writes the restore set aside' -r
complete -c rowcount-report -l database -d 'The database to count in; default the record\'s database, else the connection\'s' -r
complete -c rowcount-report -l format -d 'What to print on stdout' -r -f -a "json\t'The record, with the counts under .rowcounts.<label> (for pipelines)'
csv\t'schema,table,rows,exact[,compare_rows,difference,status] (readable again by --compare FILE)'
markdown\t'The postmortem\'s table'
table\t'An aligned table for people'"
complete -c rowcount-report -l dsn -d 'Connection string: key=value pairs or a postgresql:// URI [default: PG* variables]' -r
complete -c rowcount-report -l max-record -d 'The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables' -r
complete -c rowcount-report -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c rowcount-report -l exact -d 'Exact counts, SELECT count(*) (the default)'
complete -c rowcount-report -l estimate -d 'Planner estimates (pg_class.reltuples) instead of counting: instant, labelled as estimates'
complete -c rowcount-report -l expect-equal -d 'Fail when any table differs from --compare (added, removed, changed or unknown), or with --diff-schema when any row or table differs'
complete -c rowcount-report -l new-record -d 'Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record'
complete -c rowcount-report -s q -l quiet -d 'Print only failures on stderr'
complete -c rowcount-report -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c rowcount-report -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rowcount-report -s V -l version -d 'Print version'
