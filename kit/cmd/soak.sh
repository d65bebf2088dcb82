#!/bin/sh
# soak.sh - grade every solution, known-buggy variant and hostile submission again
# and again, idle, beside CPU hogs and four at a time, and report every verdict
# that changed.
#
# DESIGN: a verdict that depends on what else the machine is doing is a defect of
# the grader, and only repetition under different conditions shows it. Each case
# is one exercise of one submission: a reference solution (expected: full marks),
# or the chapter's solutions with one file replaced by a known-buggy variant or a
# hostile submission (expected: points lost, with the class its first line
# declares, as in the self-test). Each round grades every case under each
# condition:
#   idle      one grader at a time, nothing else running
#   hogs      one grader at a time beside one busy loop per CPU
#   parallel  four graders of different cases at once
# Every verdict that differs from the expected one is printed with the condition,
# the class and score it got and the seeds that reproduce it; at the end, one
# line per case that changed says what it got under each condition.
#
# usage: soak.sh [N] [CH]   N rounds (default 3); CH (NN or a chapter name)
#                           limits the cases to one chapter
# Environment: TL_SOAK_CONDITIONS (default "idle hogs parallel"), TL_SOAK_MATCH
# (a grep -E pattern: only the cases whose id matches), TL_SOAK_DIR (work folder,
# default build/soak).
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
need_tools
n=${1:-3} only=${2:-}
conditions=${TL_SOAK_CONDITIONS:-idle hogs parallel}
d=${TL_SOAK_DIR:-$KIT/build/soak}
rm -rf "$d"
mkdir -p "$d/cases"

# cases.list: "ID CHAPTER/EXERCISE EXPECT SUBMISSION" per case.
: >"$d/cases.list"
list_exercises "$only" | while read -r ch ex; do
    echo "solution--$ch--$ex $ch/$ex passed $KIT/solutions" >>"$d/cases.list"
done
known_bad "$only" >"$d/known-bad.list"
while read -r id ch ex expect f; do
    [ "$expect" != - ] || continue # the self-test reports a variant without one
    mkdir -p "$d/cases/$id/$ch"
    cp solutions/"$ch"/*.c "$d/cases/$id/$ch/"
    cp "$f" "$d/cases/$id/$ch/$ex.c"
    echo "$id $ch/$ex $expect $d/cases/$id" >>"$d/cases.list"
done <"$d/known-bad.list"
if [ -n "${TL_SOAK_MATCH:-}" ]; then
    grep -E "^[^ ]*(${TL_SOAK_MATCH})" "$d/cases.list" >"$d/cases.sel"
    mv "$d/cases.sel" "$d/cases.list"
fi
ncases=$(wc -l <"$d/cases.list")
[ "$ncases" -gt 0 ] || die "no case matches"

hogs=""
stop_hogs() { for p in $hogs; do kill "$p" 2>/dev/null; done; hogs=""; }
trap 'stop_hogs' EXIT
trap 'exit 130' INT TERM

# Grade every case under condition $1 into $2/<id>/ (summary, results.json, log).
grade_all() {
    jobs=1
    [ "$1" = parallel ] && jobs=4
    if [ "$1" = hogs ]; then
        for _ in $(seq "$(nproc)"); do sh -c 'while :; do :; done' & hogs="$hogs $!"; done
    fi
    export KIT
    # shellcheck disable=SC2016
    JOBS=1 OUTDIR=$2 xargs -P "$jobs" -L 1 sh -c 'o=$OUTDIR/$0; mkdir -p "$o"
        TL_QUIET=1 TL_SUMMARY="$o/summary" sh "$KIT/kit/grade/grade.sh" -s "$3" -e "$1" \
            -r "$o/results.json" >"$o/log" 2>&1' <"$d/cases.list"
    stop_hogs
}

# Whether verdict (class $1, score $2 of $3) is what case expects ($4).
as_expected() {
    if [ "$4" = passed ]; then
        [ "$1" = passed ] && [ "$2" = "$3" ]
    else
        case "|$4|" in *"|$1|"*) [ "$2" != "$3" ] ;; *) return 1 ;; esac
    fi
}

changed=0 grades=0
: >"$d/verdicts"
: >"$d/changed.ids"
r=1
while [ "$r" -le "$n" ]; do
    for c in $conditions; do
        out=$d/round$r/$c
        t0=$(now_ms)
        grade_all "$c" "$out"
        while read -r id target expect _sub; do
            grades=$((grades + 1))
            cls=none score=- max=- seeds=""
            [ -s "$out/$id/summary" ] && read -r _name score max cls seeds <"$out/$id/summary"
            echo "$id $c $r $cls $score/$max" >>"$d/verdicts"
            if ! as_expected "$cls" "$score" "$max" "$expect"; then
                changed=$((changed + 1))
                echo "$id" >>"$d/changed.ids"
                echo "CHANGED $id ($target), $c, round $r: expected $expect, got $cls $score/$max" \
                     "- reproduce with $(echo "$seeds" | sed 's/chaos=/CHAOS_SEED=/; s/input=/TL_INPUT_SEED=/')" \
                     "(log: $out/$id/log)"
            fi
        done <"$d/cases.list"
        echo "round $r/$n, $c: $ncases cases in $(( ($(now_ms) - t0) / 1000 )) s, $changed changed so far"
    done
    r=$((r + 1))
done

# Per case whose verdict ever differed from the expected one: what each condition gave.
if [ "$changed" != 0 ]; then
    echo
    echo "cases with a changed verdict (condition: class(score) per round):"
    sort -u "$d/changed.ids" | while read -r id; do
        awk -v id="$id" '$1 == id { v[$2] = v[$2] " " $4 "(" $5 ")" }
            END { printf "  %s", id; for (c in v) printf "  %s:%s", c, v[c]; print "" }' "$d/verdicts"
    done
fi
echo "$grades grades of $ncases cases ($n rounds: $conditions), $changed changed verdicts"
[ "$changed" = 0 ]
