#!/bin/sh
# links.sh - every relative link and image in the kit's Markdown resolves.
#
# DESIGN: book.md is read on GitHub, where a link to a missing diagram or to a
# heading that was renamed fails silently. So each `[text](target)` and
# `![alt](target)` outside code blocks is checked: a path must exist (relative to
# the file), and a `#fragment` must be the GitHub anchor of a heading of the
# file it points into (lower case, punctuation dropped, spaces as hyphens).
# Web addresses are left alone: the machines that run this are offline.
#
# usage: links.sh [FILE.md...]   (default: README.md, book.md, chapters/*/HINTS.md, kit/**/README.md)
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$KIT" || exit 2
[ $# -gt 0 ] || set -- README.md book.md chapters/*/HINTS.md kit/README.md kit/*/README.md

# The GitHub anchors of FILE's headings, one per line.
anchors() {
    awk '/^```/ { code = !code; next }
         !code && /^#+ / {
             h = $0; sub(/^#+ /, "", h); h = tolower(h)
             gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
             print h
         }' "$1"
}

# "LINE TARGET" for each link of FILE outside code.
links() {
    awk '/^```/ { code = !code; next }
         code { next }
         {
             s = $0; gsub(/`[^`]*`/, "", s)
             while (match(s, /\]\([^) ]+\)/)) {
                 print NR, substr(s, RSTART + 2, RLENGTH - 3)
                 s = substr(s, RSTART + RLENGTH)
             }
         }' "$1"
}

bad=0 n=0
for f in "$@"; do
    [ -f "$f" ] || continue
    dir=$(dirname "$f")
    links "$f" >"${TMPDIR:-/tmp}/links.$$"
    while read -r line target; do
        case "$target" in http://*|https://*|mailto:*) continue ;; esac
        n=$((n + 1))
        path=${target%%#*}
        frag=
        case "$target" in *"#"*) frag=${target#*#} ;; esac
        if [ -n "$path" ]; then
            dest=$dir/$path
            if [ ! -e "$dest" ]; then echo "$f:$line: $target: no such file"; bad=$((bad + 1)); continue; fi
        else
            dest=$f
        fi
        if [ -n "$frag" ] && [ -f "$dest" ]; then
            case "$dest" in *.md) ;; *) continue ;; esac
            if ! anchors "$dest" | grep -Fqx "$frag"; then
                echo "$f:$line: $target: no heading with that anchor in $dest"
                bad=$((bad + 1))
            fi
        fi
    done <"${TMPDIR:-/tmp}/links.$$"
    rm -f "${TMPDIR:-/tmp}/links.$$"
done
if [ "$bad" -gt 0 ]; then exit 1; fi
echo "$n links and images resolve"
