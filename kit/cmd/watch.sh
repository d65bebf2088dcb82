#!/bin/sh
# watch.sh - regrade an exercise every time its file is saved (make watch [EX=ch/ex]).
#
# DESIGN: polling with `find -newer` works everywhere (no inotify needed) and a
# one-second period is fast enough for a person. The selection (EX=ch/ex, a
# chapter, or nothing for every exercise) is resolved once into exercises and
# the files each is built from (chapters/<ch>/<ex>.c and the files its .ex
# lists in deps); the first line names exactly those files, and a save of one
# regrades the exercises built from it with the quick passes (functional and
# ThreadSanitizer).
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
sel=${1:-}
exercises=$(list_exercises "$sel")
[ -n "$exercises" ] || die "no exercise matches '$sel'; the exercises are: $(list_exercises "" | tr ' ' '/' | tr '\n' ' ')"

# The files exercise $1/$2 is built from, space-separated.
sources_of() {
    deps=""
    # shellcheck disable=SC1090
    . "$(ex_file "$1" "$2")"
    for unit in $2 $deps; do printf 'chapters/%s/%s.c ' "$1" "$unit"; done
}

files=$(printf '%s\n' "$exercises" | while read -r ch ex; do sources_of "$ch" "$ex"; done |
    tr ' ' '\n' | sed '/^$/d' | sort -u)
n=$(printf '%s\n' "$files" | wc -l)
if [ "$n" -le 4 ]; then
    echo "Watching $(printf '%s\n' "$files" | tr '\n' ' ' | sed 's/ $//; s/ /, /g') - save to regrade; Ctrl-C to stop."
else
    echo "Watching the $n exercise files of $(printf '%s\n' "$exercises" | awk '{ print $1 }' | sort -u | tr '\n' ' ')- save one to regrade it; Ctrl-C to stop."
fi
stamp=$(mktemp)
trap 'rm -f "$stamp"; echo; exit 0' INT TERM
first=1
while :; do
    changed="" why="saved"
    if [ "$first" = 1 ] && [ -n "$sel" ]; then
        changed=$(printf '%s\n' "$exercises" | tr ' ' '/')
        why="first grade"
    else
        # shellcheck disable=SC2086
        new=" $(find $files -newer "$stamp" 2>/dev/null | tr '\n' ' ')"
        if [ "$new" != " " ]; then
            changed=$(printf '%s\n' "$exercises" | while read -r ch ex; do
                for f in $(sources_of "$ch" "$ex"); do
                    case "$new" in *" $f "*) echo "$ch/$ex"; break ;; esac
                done
            done)
            why="$(printf '%s' "$new" | sed 's/^ //; s/ $//; s/ /, /g') saved"
        fi
    fi
    first=0
    touch "$stamp"
    for e in $changed; do
        printf '\n[%s] %s - grading %s (the quick passes: functional + ThreadSanitizer)...\n' \
            "$(date +%H:%M:%S)" "$why" "$e"
        sh kit/grade/grade.sh -P "func tsan" -b -e "$e" -r build/watch/results.json | sed '1,/^--------/d'
        echo "(Full marks here are not yet the grade: make grade EX=$e runs every pass.)"
    done
    sleep 1
done
