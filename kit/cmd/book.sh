#!/bin/sh
# book.sh - keep book.md's code excerpts identical to the compiled sources.
#
# DESIGN: book.md never holds hand-copied code. Each excerpt sits between
#     <!-- snippet: PATH NAME -->   and   <!-- end snippet -->
# and is refilled from the lines between `/* snippet: NAME */` and
# `/* end snippet: NAME */` in PATH, a file the kit compiles and tests.
# `update` rewrites book.md; `check` fails, naming the excerpt, when they differ.
#
# usage: book.sh update | check
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$KIT" || exit 2
mode=${1:-check}

render() {
    awk '
    function fail(msg) { print "book.md:" NR ": " msg > "/dev/stderr"; bad = 1 }
    /^<!-- snippet: [^ ]+ [^ ]+ -->$/ {
        print
        path = $3; name = $4
        n = 0; state = 0
        while ((getline line < path) > 0) {
            if (line ~ "^[ \t]*/\\* end snippet: " name " \\*/[ \t]*$") { state = 2; break }
            if (state == 1) buf[++n] = line
            if (line ~ "^[ \t]*/\\* snippet: " name " \\*/[ \t]*$") state = 1
        }
        close(path)
        if (state != 2) fail("excerpt \"" name "\" not found in " path)
        lang = (path ~ /\.(c|h)$/) ? "c" : ""
        print "```" lang
        for (i = 1; i <= n; i++) print buf[i]
        print "```"
        skipping = 1
        next
    }
    /^<!-- end snippet -->$/ { skipping = 0 }
    !skipping { print }
    END { exit bad }
    ' book.md
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
render >"$tmp" || exit 1
case $mode in
    update)
        if cmp -s "$tmp" book.md; then echo "book.md: excerpts already up to date"; else cp "$tmp" book.md && echo "book.md: excerpts refreshed"; fi ;;
    check)
        if cmp -s "$tmp" book.md; then
            echo "book.md: $(grep -c '^<!-- snippet: ' book.md) excerpts match their sources"
        else
            echo "book.md has drifted from the sources (run 'make book' to refresh):"
            diff -u book.md "$tmp" | head -n 40
            exit 1
        fi ;;
    *) echo "usage: book.sh update|check" >&2; exit 2 ;;
esac
