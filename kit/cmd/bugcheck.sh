#!/bin/sh
# bugcheck.sh - a known-buggy variant differs from its solution only where it says so.
#
# DESIGN: a variant is a whole file, because students read it whole; so it can
# drift from its solution when the solution is fixed and the variant is not. Each
# variant tests/<chapter>/bugs/<ex>--<what>.c has one header format:
#
#     /* expect: <class>[|<class>] */
#     /* BUG (<ex>--<what>): <one sentence: what is wrong and what it breaks> */
#     ...the solution, verbatim, but for the buggy lines...
#
# and every change against solutions/<chapter>/<ex>.c (the body from line 3 on)
# carries a comment with "BUG" on a line of the change, or, where lines were only
# removed, on the line just before or after. The file's own top comment may differ
# freely (it should call the file a known-buggy variant, not a reference solution).
#
# usage: bugcheck.sh [FILE...]    (default: every variant); prints one line per
# problem and exits 1 if there was any.
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$KIT" || exit 2
[ $# -gt 0 ] || set -- tests/[0-9][0-9]-*/bugs/*--*.c
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
# Drop a file's first comment block (its top comment), keeping line numbers.
top_blanked() {
    awk 'BEGIN { s = 0 }
         s == 0 && /^\/\*/ { s = 1 }
         s == 1 { if (index($0, "*/")) s = 2; print ""; next }
         { if (s == 0 && NF) s = 2; print }' "$1"
}
bad=0
for f in "$@"; do
    [ -f "$f" ] || continue
    ch=$(basename "$(dirname "$(dirname "$f")")")
    id=$(basename "$f" .c)
    sol=solutions/$ch/${id%%--*}.c
    problem() { echo "$f: $*"; bad=1; }
    [ -f "$sol" ] || { problem "no solution $sol to compare with"; continue; }
    sed -n 1p "$f" | grep -Eq '^/\* expect: [a-z|-]+ \*/$' ||
        problem "line 1 must be '/* expect: <class> */'"
    sed -n 2p "$f" | grep -Fq "/* BUG ($id): " ||
        problem "line 2 must be '/* BUG ($id): <what is wrong> */'"
    tail -n +3 "$f" >"$tmp/v.c"
    top_blanked "$tmp/v.c" >"$tmp/v"
    top_blanked "$sol" >"$tmp/s"
    # Each hunk: the variant's lines a,b (a > b for a pure deletion after line b).
    diff "$tmp/s" "$tmp/v" | sed -n 's/^[0-9,]*[acd]\([0-9]*\),*\([0-9]*\)$/\1 \2/p' >"$tmp/hunks"
    while read -r a b; do
        [ -n "$b" ] || b=$a
        case $(diff "$tmp/s" "$tmp/v" | grep -m 1 "^[0-9,]*d$a\$") in
            "") lo=$a hi=$b ;;
            *) lo=$a hi=$((a + 1)) ;; # removed lines: the marker sits beside the gap
        esac
        if ! sed -n "${lo},${hi}p" "$tmp/v.c" | grep -q 'BUG'; then
            problem "lines $((lo + 2))-$((hi + 2)) differ from $sol without a BUG comment (a fix to the solution that never reached this variant?)"
        fi
    done <"$tmp/hunks"
done
exit $bad
