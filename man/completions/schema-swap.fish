complete -c schema-swap -l schema -d 'The schema to replace; default the record\'s schema' -r
complete -c schema-swap -l dump -d 'The dump: a custom-format file or a directory-format directory; default the record\'s dump section' -r -F
complete -c schema-swap -l table -d 'Replace only this table of the live schema (repeatable), with everything that belongs to it (indexes, constraints, triggers, rules, policies, owned sequences and their values, statistics, comments, grants, partitions and children) and its rows; foreign keys of other tables that pointed to it and views that read it are re-created on the restored table. Every other object of the schema stays as it is live. The live table is set aside into <schema>_prev_<UTC time>' -r
complete -c schema-swap -l into -d 'Restore the dump\'s schema (or, with --table, only those tables) as a new schema NAME beside the live one, to look before touching or to take rows back by hand. The live schema is not changed and no session ever sees it missing; NAME must not exist. Function bodies are text: a copied function that names the schema still reads the live one' -r
complete -c schema-swap -l keep -d 'With --prune: how many of the newest previous schemas to keep' -r
complete -c schema-swap -l older-than -d 'With --prune: drop previous schemas set aside longer ago than this, e.g. 7d' -r
complete -c schema-swap -l lock-timeout -d 'How long any statement that takes a lock (the swap, --drop-previous, --prune, --rollback) waits for it before giving up. At least 1ms: 0 is refused, since PostgreSQL reads a lock_timeout of 0 as "wait for ever"' -r
complete -c schema-swap -l maintenance-work-mem -d 'maintenance_work_mem for the restore\'s session (index and key builds)' -r
complete -c schema-swap -l work-mem -d 'work_mem for the restore\'s session (foreign key validation, materialized view refresh)' -r
complete -c schema-swap -l copy-format -d 'How table data goes to the server: `auto` converts the dump\'s COPY text to COPY\'s binary form, which the server takes with far less work, for every table whose column types schema-swap knows, in UTF-8 dumps on PostgreSQL 12 and later (other tables go as text, and so does a table holding a value the converter is not sure of); `text` sends the dump\'s text as it is' -r -f -a "auto\t''
text\t''"
complete -c schema-swap -l jobs -d 'Threads that count the dump\'s rows when the record has no counts; default the cores' -r
complete -c schema-swap -l pg-bindir -d 'Look for pg_restore only in this directory (repeatable); default PATH, /usr/lib/postgresql/*/bin and /opt/schema-restore/pg/*/bin' -r -F
complete -c schema-swap -l dsn -d 'Connection string: key=value pairs or a postgresql:// URI [default: PG* variables]' -r
complete -c schema-swap -l max-record -d 'The largest record read on stdin; a larger one is refused (exit 2) before it is parsed. Records are kilobytes to a few megabytes even for thousands of tables' -r
complete -c schema-swap -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c schema-swap -l merge-missing -d 'With --table: put back the dump\'s rows that are missing live, by primary key (or a unique key whose columns are NOT NULL), with their original values, identity and serial columns included; no live row is changed or deleted, sequences are advanced past what came back, and foreign keys, checks and triggers apply as to any insert. The cure for an accidental DELETE. A table without such a key is refused'
complete -c schema-swap -l fk-not-valid -d 'With --table: a re-created foreign key that live rows violate (rows written after the dump that reference rows the dump lacks) is made NOT VALID, with a warning that counts them, instead of rolling the restore back'
complete -c schema-swap -s y -l yes -d 'Skip the confirmation prompt (as RESTORE_SKIP_CONFIRM=1 does)'
complete -c schema-swap -l dry-run -d 'Print the plan (what is renamed, restored and counted) and change nothing'
complete -c schema-swap -l drop-previous -d 'After a verified commit, drop the previous schema (kept when anything outside depends on it)'
complete -c schema-swap -l repoint-dependents -d 'Recreate views outside the schema that read it, so they read the restored schema (in the same transaction); without it they keep reading the previous one'
complete -c schema-swap -l rollback -d 'Swap the newest previous schema back in, in one transaction (the current one is set aside)'
complete -c schema-swap -l list -d 'List the previous schemas kept, with their times and sizes'
complete -c schema-swap -l prune -d 'Drop previous schemas: those beyond --keep, or older than --older-than'
complete -c schema-swap -l no-freeze -d 'Load tables with plain COPY instead of COPY FREEZE'
complete -c schema-swap -l new-record -d 'Start a new record even though stdin is an empty pipe. Without it an empty pipe means the tool before this one wrote nothing (it failed or was stopped), and this tool stops with exit 3. A terminal or /dev/null on stdin always starts a new record'
complete -c schema-swap -s q -l quiet -d 'Print only failures on stderr'
complete -c schema-swap -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c schema-swap -s h -l help -d 'Print help (see more with \'--help\')'
complete -c schema-swap -s V -l version -d 'Print version'
