#compdef snapshot-pick

autoload -U is-at-least

_snapshot-pick() {
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
'--before=[The time the damage happened\: RFC 3339, '\''YYYY-MM-DD HH\:MM\[\:SS\]'\'' (in --tz), '\''90m ago'\'', or '\''now'\'']:TIME:_default' \
'--tz=[Time zone for a wall-clock --before (IANA name or offset); default the local zone]:ZONE:_default' \
'--from=[Read restic'\''s snapshot list from FILE instead of stdin]:FILE:_files' \
'--max-input=[The largest snapshot list read; a larger one is refused (exit 2). A list takes about 1 KB per snapshot\: 1GiB is a million snapshots]:SIZE:_default' \
'*--host=[Only snapshots of this host (repeatable\: any of them)]:HOST:_default' \
'*--tag=[Only snapshots with all these tags, '\''a,b'\'' (repeatable\: any of the lists)]:TAG[,TAG]:_default' \
'*--path=[Only snapshots that include this absolute path (repeatable\: all of them)]:PATH:_default' \
'*--skip=[Pass over this snapshot (short or full id), e.g. one whose dump was found bad (repeatable)]:ID:_default' \
'--cadence=[Expected time between snapshots; a pick or a gap much longer than this warns]:DURATION:_default' \
'--window=[How far back before the time to look for gaps in the cadence]:DURATION:_default' \
'--max-age=[Fail when the newest snapshot is older than this (a check of the backup timer)]:DURATION:_default' \
'--verify-file=[Confirm with '\''restic ls'\'' that the pick holds this file (absolute path in the snapshot); otherwise fall back to the next older snapshot]:PATH:_default' \
'--min-size=[With --verify-file\: the smallest size that counts as a real dump]:SIZE:_default' \
'--restic=[The restic binary for --verify-file (it reads RESTIC_REPOSITORY and the password from its environment)]:PATH:_files' \
'--color=[Colour the stderr messages]:WHEN:((auto\:"Colour when stderr is a terminal and NO_COLOR is unset"
always\:""
never\:""))' \
'-q[Print only failures on stderr]' \
'--quiet[Print only failures on stderr]' \
'--pretty[Write the record indented, one key per line, as it is when stdout is a terminal; otherwise it is one line]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
}

(( $+functions[_snapshot-pick_commands] )) ||
_snapshot-pick_commands() {
    local commands; commands=()
    _describe -t commands 'snapshot-pick commands' commands "$@"
}

if [ "$funcstack[1]" = "_snapshot-pick" ]; then
    _snapshot-pick "$@"
else
    compdef _snapshot-pick snapshot-pick
fi
