#!/bin/sh
# names.sh - the program's own names for the locks and condition variables
# the pthread wrappers tagged by site, for every picture that names them: the
# timeline (kit/cmd/chapters.sh) and the grader's wait-for graph
# (kit/grade/report/explain_hang.c).
#
# DESIGN: the wrappers (kit/wrap/tlwrap.c) never resolve names in the running
# program; they write down where to look. "mutex-init@0xOFF" (also cond-,
# rwlock-) is the offset of the init call in the program: addr2line turns it
# into source lines, and the first argument of the outermost inlined call that
# still reads *_init(...) is the name (so a checked helper like
# mutex_init(&q->lock) names q->lock). "data@0xOFF" is an offset into the
# program's data: nm's symbols name it, and gdb, where installed, names a
# member or an element inside one (holder.m, locks[2]). A tag that tells
# nothing is left out, and the caller numbers the object (mutex #1).
#
# The binary may be a hostile submission's (the grader names what its threads
# waited on): gdb runs with no init files and no auto-loading (a binary can
# carry scripts for gdb in a section of its own), and with TL_NAMES_ROOTS set
# (folders, colon-separated) a source line is read only from a file inside one
# of them, whatever file the debug info (or a #line) points to.
#
# usage: names.sh BINARY TAG...   prints "TAG NAME" for each tag it can name
set -u
[ $# -ge 1 ] || { echo "usage: names.sh BINARY TAG..." >&2; exit 2; }
bin=$1
shift

# The name of byte OFF inside the program's global SYM, from its debug info
# with gdb where installed: locks[2] for an array, holder.m for a struct's
# member; SYM+OFF when neither tells.
member_name() {
    sym=$1 off=$2
    command -v gdb >/dev/null 2>&1 || { echo "$sym+$off"; return; }
    type=$(timeout 10 gdb -nx -batch -iex "set auto-load off" -ex "whatis $sym" "$bin" 2>/dev/null | sed -n 's/^type = //p')
    case "$type" in
    *"]")
        size=$(timeout 10 gdb -nx -batch -iex "set auto-load off" -ex "print sizeof(${sym}[0])" "$bin" 2>/dev/null | sed -n 's/^\$[0-9]* = //p')
        if [ -n "$size" ] && [ "$size" -gt 0 ] && [ $((off % size)) = 0 ]; then
            echo "${sym}[$((off / size))]"
            return
        fi ;;
    *struct*)
        # ptype /o: "/*  8 |  40 */    pthread_mutex_t m;", members four spaces in
        # shellcheck disable=SC2016 # awk's own $ fields
        m=$(timeout 10 gdb -nx -batch -iex "set auto-load off" -ex "ptype /o $sym" "$bin" 2>/dev/null | awk -v off="$off" '
            $1 == "/*" && $2 == off && $3 == "|" && $5 == "*/" {
                s = $0; sub(/^[^*]*\*[^*]*\*\/    /, "", s)
                if (s ~ /^ /) next                      # a nested member, not this level
                sub(/;.*/, "", s); sub(/\[.*/, "", s)
                n = split(s, w, /[ *]+/); print w[n]; exit }')
        if [ -n "$m" ]; then
            echo "$sym.$m"
            return
        fi ;;
    esac
    echo "$sym+$off"
}

# Whether a source file may be read: always, unless TL_NAMES_ROOTS lists the
# folders it must lie in.
readable_here() {
    [ -z "${TL_NAMES_ROOTS:-}" ] && return 0
    real=$(realpath -e -- "$1" 2>/dev/null) || return 1
    rest=$TL_NAMES_ROOTS
    while [ -n "$rest" ]; do
        root=$(realpath -e -- "${rest%%:*}" 2>/dev/null) || root=/nonexistent
        case "$rest" in *:*) rest=${rest#*:} ;; *) rest="" ;; esac
        case "$real" in "$root"/*) return 0 ;; esac
    done
    return 1
}

# An init site: the first argument of the outermost *_init call on its lines.
init_name() {
    kind=${1%%-init@*} off=${1#*@}
    found=""
    for loc in $(addr2line -i -e "$bin" "$off" 2>/dev/null | sed 's/ (discriminator [0-9]*)//'); do
        file=${loc%:*} line=${loc##*:}
        if [ ! -f "$file" ] || [ -z "$line" ] || [ "$line" = "?" ] || ! readable_here "$file"; then continue; fi
        arg=$(sed -n "${line}p" "$file" |
            sed -n "s/.*[a-z_]*${kind}_init *( *&* *\([^,)]*\).*/\1/p" | sed 's/ *$//')
        [ -n "$arg" ] && found=$arg
    done
    [ -n "$found" ] && printf '%s %s\n' "$1" "$found"
    return 0
}

# A data offset: the symbol it lies in, from nm's list in $syms.
data_name() {
    # shellcheck disable=SC2016 # awk's own $ fields
    awk -v tag="$1" -v want="${1#data@0x}" '
        function hex(s,   i, n) { n = 0; s = tolower(s)
            for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return n }
        BEGIN { w = hex(want) }
        { a = hex($1); z = hex($2)
          if (w >= a && w < a + z) { print tag, $4, w - a; exit } }' "$syms" |
        while read -r t sym off; do
            if [ "$off" = 0 ]; then echo "$t $sym"; else echo "$t $(member_name "$sym" "$off")"; fi
        done
}

syms=""
for tag in "$@"; do
    case "$tag" in
    [a-z]*-init@0x*) init_name "$tag" ;;
    data@0x*)
        if [ -z "$syms" ]; then
            syms=$(mktemp) || exit 1
            nm -S --defined-only "$bin" 2>/dev/null | awk 'NF == 4 && $3 ~ /^[bBdD]$/' >"$syms"
        fi
        data_name "$tag" ;;
    esac
done
[ -z "$syms" ] || rm -f "$syms"
