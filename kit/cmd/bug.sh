#!/bin/sh
# bug.sh - `make bug CH=04 [BUG=queue--if-not-while]`: study a chapter's known bugs.
#
# DESIGN: every exercise ships known-buggy variants (tests/NN-name/bugs/) that
# the self-test proves the grader rejects. A learner can learn from them too,
# as OSTEP's buggy programs invite: the list says what each one gets wrong and
# which class the grader gives it; running one grades it (the verdict, the
# evidence, a hang's wait-for graph) and draws its timeline. Only the lines the
# bug changed are shown, never the reference solution around them.
#
# usage: bug.sh CH [VARIANT]
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
[ -d solutions ] || die "this is a student starter: the known bugs ship with the kit's own checkout only"
sel=${1:-}
[ -n "$sel" ] || die "say which chapter: make bug CH=04 (chapters: $(ls chapters | tr '\n' ' '))"
want=${2:-}

# The "BUG (name): what goes wrong" line at the top of a variant.
what_of() { sed -n '1,6s/^\/\* BUG ([^)]*): *\(.*\) \*\/$/\1/p' "$1" | head -n 1; }

if [ -z "$want" ]; then
    n=0
    known_bad "$sel" | while read -r _id ch ex expect f; do
        case "$f" in */tests/kit/hostile/*) continue ;; esac
        [ "$n" = 0 ] && printf 'Known bugs of %s (the class the grader gives them):\n\n' "$ch"
        n=$((n + 1))
        printf '  %-36s %s\n' "$(basename "$f" .c)" "$expect"
        what_of "$f" | fold -s -w 72 | sed 's/^/      /'
    done
    echo
    echo "Run one: make bug CH=$sel BUG=<name>   (grades it and draws its timeline)"
    exit 0
fi

line=$(known_bad "$sel" | awk -v w="$want" '{ n = $5; sub(/.*\//, "", n); sub(/\.c$/, "", n) } n == w' | head -n 1)
[ -n "$line" ] || die "no known bug '$want' in chapter '$sel' (list them: make bug CH=$sel)"
# shellcheck disable=SC2086 # known_bad's fields, split into words on purpose
set -- $line
ch=$2 ex=$3 expect=$4 f=${5#"$KIT"/}
d=build/bugs/$want
rm -rf "$d"
mkdir -p "$d/$ch"
cp solutions/"$ch"/*.c "$d/$ch/"
cp "$f" "$d/$ch/$ex.c"
printf '== %s: %s\n' "$want" "$(what_of "$f")" | fold -s -w 100
echo "   The lines it changed ($f):"
grep -n 'BUG' "$f" | sed -n '2,$p' | sed 's/^/     /'
printf '   The grader should call it: %s\n\n' "$expect"
sh kit/grade/grade.sh -s "$d" -e "$ch/$ex" -r "$d/results.json"
echo
sh kit/cmd/chapters.sh timeline "$ch/$ex" build/timelines "$d" "$ch--$want" ||
    echo "  (no timeline: $ch/$ex has no workload)"
exit 0
