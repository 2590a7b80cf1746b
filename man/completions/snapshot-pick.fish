complete -c snapshot-pick -l before -d 'The time the damage happened: RFC 3339, \'YYYY-MM-DD HH:MM[:SS]\' (in --tz), \'90m ago\', or \'now\'' -r
complete -c snapshot-pick -l tz -d 'Time zone for a wall-clock --before (IANA name or offset); default the local zone' -r
complete -c snapshot-pick -l from -d 'Read restic\'s snapshot list from FILE instead of stdin' -r -F
complete -c snapshot-pick -l max-input -d 'The largest snapshot list read; a larger one is refused (exit 2). A list takes about 1 KB per snapshot: 1GiB is a million snapshots' -r
complete -c snapshot-pick -l host -d 'Only snapshots of this host (repeatable: any of them)' -r
complete -c snapshot-pick -l tag -d 'Only snapshots with all these tags, \'a,b\' (repeatable: any of the lists)' -r
complete -c snapshot-pick -l path -d 'Only snapshots that include this absolute path (repeatable: all of them)' -r
complete -c snapshot-pick -l skip -d 'Pass over this snapshot (short or full id), e.g. one whose dump was found bad (repeatable)' -r
complete -c snapshot-pick -l cadence -d 'Expected time between snapshots; a pick or a gap much longer than this warns' -r
complete -c snapshot-pick -l window -d 'How far back before the time to look for gaps in the cadence' -r
complete -c snapshot-pick -l max-age -d 'Fail when the newest snapshot is older than this (a check of the backup timer)' -r
complete -c snapshot-pick -l verify-file -d 'Confirm with \'restic ls\' that the pick holds this file (absolute path in the snapshot); otherwise fall back to the next older snapshot' -r
complete -c snapshot-pick -l min-size -d 'With --verify-file: the smallest size that counts as a real dump' -r
complete -c snapshot-pick -l restic -d 'The restic binary for --verify-file (it reads RESTIC_REPOSITORY and the password from its environment)' -r -F
complete -c snapshot-pick -l color -d 'Colour the stderr messages' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t''
never\t''"
complete -c snapshot-pick -s q -l quiet -d 'Print only failures on stderr'
complete -c snapshot-pick -l pretty -d 'Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line'
complete -c snapshot-pick -s h -l help -d 'Print help (see more with \'--help\')'
complete -c snapshot-pick -s V -l version -d 'Print version'
