#!/bin/sh
# compdb.sh - write compile_commands.json, so clangd (and other editors' C tools)
# find the kit's headers and flags for every chapter, solution and test file.
#
# DESIGN: the entries use the flags the grader itself compiles with (flags.mk via
# common.sh), so what the editor warns about is what `make grade` warns about.
# jq writes the JSON; nothing is quoted by hand.
#
# usage: compdb.sh [OUT]   (default: compile_commands.json at the kit's root)
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
command -v jq >/dev/null 2>&1 || die "jq is needed: apt-get install jq"
out=${1:-compile_commands.json}
for f in chapters/[0-9][0-9]-*/*.c solutions/[0-9][0-9]-*/*.c tests/[0-9][0-9]-*/*.c tests/[0-9][0-9]-*/bugs/*.c \
         kit/*/*.c kit/*/*/*.c; do
    [ -f "$f" ] || continue
    case "$f" in
        chapters/*|solutions/*|tests/*)
            ch=$(echo "$f" | sed 's|^[a-z]*/\([0-9][0-9]-[^/]*\)/.*|\1|')
            flags="$LEARNER_CFLAGS -pthread -Ichapters/$ch $KIT_INC -I$KIT/kit/wrap" ;;
        *) flags="$KIT_CFLAGS -pthread $KIT_INC -I$KIT/kit/wrap -I$KIT/kit/proto" ;;
    esac
    printf '%s\t%s\n' "$f" "$CC $flags -c $f"
done | jq -R -s --arg dir "$KIT" '
    split("\n") | map(select(length > 0) | split("\t") | {directory: $dir, file: .[0], command: .[1]})' >"$out.tmp" &&
    mv "$out.tmp" "$out" && echo "wrote $out ($(jq length "$out") files)"
