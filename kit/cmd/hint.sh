#!/bin/sh
# hint.sh - `make hint EX=04/queue`: the next hint for one exercise, one level per call.
#
# DESIGN: the hints live in chapters/NN-name/HINTS.md, one "## <exercise>"
# section each, as a numbered list that goes from gentle to nearly the answer
# (never the solution). The level a learner has reached is a one-line state
# file under build/hints/, so each call shows one more hint and the learner
# is never handed the whole list by accident.
#
# A hint may end with a line "<!-- for: lost-wakeup data-race -->" (hidden on
# GitHub): it is the first hint about those bug classes. When the learner's
# last grade of the exercise (kept by grade.sh in build/hints/CH--EX.last)
# failed with one of them, the next hint is that one if it has not been seen,
# rather than the next in line; make test checks that every class a known-buggy
# variant of the exercise gets has such a hint.
#
# usage: hint.sh CH/EX [LEVEL|reset|count|for:CLASS]    (LEVEL shows that hint again, changing nothing;
#        for:CLASS prints the number of the hint about that bug class, if any)
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2

sel=${1:-}
case "$sel" in
    */*) ;;
    *) die "say which exercise: make hint EX=04-worker-pool/queue (or EX=04/queue)" ;;
esac
# shellcheck disable=SC2046 # "chapter exercise", split into words on purpose
set -- $(list_exercises "$sel") "${2:-}"
[ $# -ge 3 ] || die "no exercise matches '$sel' (see: ls tests/*/*.ex)"
ch=$1 ex=$2 ask=$3
hints=chapters/$ch/HINTS.md
[ -f "$hints" ] || die "$hints is missing"

# Hint K of the exercise's section (K=0: how many there are).
hint() {
    awk -v ex="$ex" -v want="$1" '
        /^## / { inside = ($2 == ex); next }
        !inside { next }
        /^[0-9]+\. / { n++ }
        /<!-- for:/ { next }
        want > 0 && n == want { print }
        END { if (want == 0) print n + 0 }
    ' "$hints"
}

# The first hint tagged for bug class $1, or nothing.
hint_for() {
    awk -v ex="$ex" -v cls="$1" '
        /^## / { inside = ($2 == ex); next }
        !inside { next }
        /^[0-9]+\. / { n++ }
        /<!-- for:/ { for (i = 3; i < NF; i++) if ($i == cls) { print n; exit } }
    ' "$hints"
}

total=$(hint 0)
[ "$total" -gt 0 ] || [ "$ask" = count ] || die "$hints has no numbered hints under '## $ex'"
state=build/hints/$ch--$ex
mkdir -p build/hints
seen=$(cat "$state" 2>/dev/null || echo 0)
case "$ask" in
    count) echo "$total"; exit 0 ;;
    for:*) hint_for "${ask#for:}"; exit 0 ;;
    reset) rm -f "$state"; echo "Hints for $ch/$ex start again from the first."; exit 0 ;;
    "") level=$((seen + 1))
        # Where the last grade failed, start at the hint about its class.
        last=$(cat "build/hints/$ch--$ex.last" 2>/dev/null)
        case "$last" in
            "" | passed | not-started) ;;
            *) about=$(hint_for "$last")
               why=$(sed -n 's/^TL_CLASS([A-Z_]*, "'"$last"'", "\(.*\)")$/\1/p' kit/proto/protocol.def)
               printf 'Your last grade of %s/%s: %s%s.\n' "$ch" "$ex" "$last" "${why:+ - $why}"
               if [ -z "$about" ]; then
                   :
               elif [ "$about" -gt "$seen" ]; then
                   level=$about
                   case $about in
                       2) gentler="hint 1 is gentler" ;;
                       3) gentler="hints 1 and 2 are gentler" ;;
                       *) gentler="hints 1 to $((about - 1)) are gentler" ;;
                   esac
                   [ "$about" -gt 1 ] && echo "Hint $about is the one about it, so it comes next; $gentler (make hint EX=$ch/$ex LEVEL=1 shows the first)."
               elif [ "$level" -le "$total" ]; then
                   echo "Hint $about, already seen, is the one about it: make hint EX=$ch/$ex LEVEL=$about."
               fi
               echo ;;
        esac ;;
    *[!0-9]*) die "LEVEL must be a number from 1 to $total" ;;
    *) level=$ask
       if [ "$seen" = 0 ]; then
           die "no hint for $ch/$ex seen yet; the first: make hint EX=$ch/$ex"
       elif [ "$level" -lt 1 ] || [ "$level" -gt "$seen" ]; then
           die "you have seen hints 1 to $seen of $total; ask for the next with: make hint EX=$ch/$ex"
       fi ;;
esac
if [ "$level" -gt "$total" ]; then
    if [ "$total" = 1 ]; then echo "That was the only hint for $ch/$ex."; else
        echo "That was the last of the $total hints for $ch/$ex."; fi
    echo "Next: make grade EX=$ch/$ex shows what the tests saw; make timeline EX=$ch/$ex draws your code at work."
    exit 0
fi
[ -n "$ask" ] || echo "$level" >"$state"
printf '== %s/%s: hint %d of %d\n\n' "$ch" "$ex" "$level" "$total"
hint "$level" | sed 's/^[0-9]*\. /   /' | awk 'NF { while (blank) { print ""; blank-- } print; next } { blank++ }'
echo
if [ "$level" -lt "$total" ]; then
    echo "Try it first; then 'make hint EX=$ch/$ex' gives the next one."
else
    echo "That was the last one: it is nearly the answer."
fi
[ "$level" -gt 1 ] && echo "See an earlier one again: make hint EX=$ch/$ex LEVEL=1"
exit 0
