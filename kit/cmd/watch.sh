#!/bin/sh
# watch.sh - regrade an exercise every time its file is saved (make watch [EX=ch/ex]).
#
# DESIGN: polling with `find -newer` works everywhere (no inotify needed) and a
# one-second period is fast enough for a person; each regrade runs the quick
# passes (functional and ThreadSanitizer) of the exercises whose files changed.
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
sel=${1:-}
stamp=$(mktemp)
trap 'rm -f "$stamp"; echo; exit 0' INT TERM
echo "Watching chapters/${sel:-*}/*.c - save an exercise file to regrade it; Ctrl-C to stop."
first=1
while :; do
    changed=""
    if [ "$first" = 1 ] && [ -n "$sel" ]; then
        changed=$sel
    else
        for f in $(find chapters -name '*.c' -newer "$stamp" 2>/dev/null); do
            ch=$(basename "$(dirname "$f")") ex=$(basename "$f" .c)
            [ -f "tests/$ch/$ex.ex" ] || continue
            case "$sel" in ""|"$ch"|"$ch/$ex"|"${ch%%-*}"|"${ch%%-*}/$ex") changed="$changed $ch/$ex" ;; esac
        done
    fi
    first=0
    touch "$stamp"
    for e in $changed; do
        printf '\n[%s] %s changed - grading (functional + ThreadSanitizer)...\n' "$(date +%H:%M:%S)" "$e"
        sh kit/grade/grade.sh -P "func tsan" -b -e "$e" -r build/watch/results.json | sed '1,/^--------/d'
    done
    sleep 1
done
