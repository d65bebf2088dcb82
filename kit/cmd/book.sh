#!/bin/sh
# book.sh - keep book.md's code excerpts identical to the compiled sources.
#
# DESIGN: book.md never holds hand-copied code. Each excerpt sits between
#     <!-- snippet: PATH NAME -->   and   <!-- end snippet -->
# and is refilled from the lines between `/* snippet: NAME */` and
# `/* end snippet: NAME */` in PATH, a file the kit compiles and tests.
# `update` rewrites book.md; `check` fails, naming the excerpt, when they differ.
#
# `html` writes the book as one page (build/book.html) with pandoc.
#
# usage: book.sh update | check | html [OUT]
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
    html)
        # One page with the diagrams inline (their hover details work), from
        # pandoc when it is installed; the book's own Contents list is its table
        # of contents, and its anchors are GitHub's, so links work the same.
        out=${2:-build/book.html}
        if ! command -v pandoc >/dev/null 2>&1; then
            echo "book.md: for a single-page HTML book, install pandoc (apt-get install pandoc)"; exit 0
        fi
        mkdir -p "$(dirname "$out")"
        { echo '<style>'; cat kit/cmd/book.css; echo '</style>'; } >"$tmp"
        pandoc book.md -f gfm -t html5 --standalone --metadata pagetitle="threadlab: concurrency patterns in C" \
            --include-in-header "$tmp" --lua-filter kit/cmd/book-html.lua -o "$out" &&
            echo "wrote $out ($(grep -c '<svg' "$out") diagrams inline)" ;;
    *) echo "usage: book.sh update|check|html [OUT]" >&2; exit 2 ;;
esac
