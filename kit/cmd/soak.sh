#!/bin/sh
# soak.sh - grade the reference solutions N times and report every flake with its seeds.
#
# DESIGN: "fails a correct solution once in a hundred runs" is a defect, and only
# repetition shows it. Runs rotate through three conditions that bring out
# different interleavings: all CPUs, the whole grader pinned to one CPU, and all
# CPUs busy with spinning hogs. Each flake is printed with the CHAOS_SEED and
# TL_INPUT_SEED that reproduce it.
#
# usage: soak.sh N [EX]
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
n=${1:-200} sel=${2:-}
d=build/soak
rm -rf "$d"
mkdir -p "$d"
flakes=0 runs=0
hogs=""
stop_hogs() { for p in $hogs; do kill "$p" 2>/dev/null; done; hogs=""; }
trap 'stop_hogs' EXIT INT TERM
i=1
while [ "$i" -le "$n" ]; do
    case $((i % 3)) in
        0) mode="all CPUs"; pre="" ;;
        1) mode="pinned to CPU 0"; pre="taskset -c 0" ;;
        2) mode="next to CPU hogs"; pre=""
           for _ in $(seq "$(nproc)"); do sh -c 'while :; do :; done' & hogs="$hogs $!"; done ;;
    esac
    # shellcheck disable=SC2086
    TL_QUIET=1 TL_SUMMARY=$d/summary.$i $pre sh kit/grade/grade.sh -s solutions ${sel:+-e "$sel"} \
        -r "$d/results.$i.json" >"$d/log.$i" 2>&1
    stop_hogs
    runs=$((runs + 1))
    while read -r name score max cls seeds; do
        if [ "$score" != "$max" ]; then
            flakes=$((flakes + 1))
            echo "FLAKE run $i ($mode): $name $score/$max $cls - reproduce: make grade SUBMISSION=solutions EX=$name $(echo "$seeds" | sed 's/chaos=/CHAOS_SEED=/; s/input=/TL_INPUT_SEED=/')"
        fi
    done <"$d/summary.$i"
    printf '\rrun %d/%d, %d flakes' "$i" "$n" "$flakes"
    i=$((i + 1))
done
echo
echo "$runs runs, $flakes flakes"
[ "$flakes" = 0 ]
