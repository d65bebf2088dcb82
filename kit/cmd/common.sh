# common.sh - settings and small functions shared by the kit's shell scripts.
# Sourced, never run. Expects KIT (the kit's root folder) to be set.

CC=${CC:-gcc}
# A variable of kit/cmd/flags.mk (the Makefile includes the same file).
mk_var() { sed -n "s/^$1 *= *//p" "$KIT/kit/cmd/flags.mk"; }
KIT_CFLAGS=$(mk_var KIT_CFLAGS)
LEARNER_CFLAGS=$(mk_var LEARNER_CFLAGS)
# Where tests and workloads find the kit's headers (tlcheck.h, tltest.h, trace.h).
KIT_INC="-I$KIT/kit/check -I$KIT/kit/trace"
# The linker's --wrap options, one per line of kit/wrap/wrapped.def.
WRAP_FLAGS=-Wl,$(sed -n 's/^TL_WRAPPED([^,]*, *\([a-z_]*\),.*/--wrap=\1/p' "$KIT/kit/wrap/wrapped.def" | paste -sd, -)
# An exit status of kit/proto/protocol.def: tl_exit_code TSAN -> 66.
tl_exit_code() { sed -n "s/^TL_EXIT($1, *\([0-9]*\),.*/\1/p" "$KIT/kit/proto/protocol.def"; }
MEM_MB=${TL_MEM_MB:-2048}

die() {
    printf 'threadlab: %s\n' "$*" >&2
    exit 2
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rand_u31() { od -An -tu4 -N4 /dev/urandom | tr -d ' ' | awk '{ print ($1 % 2147483646) + 1 }'; }
rand_hex() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }

# The apt package that provides each tool the kit needs.
pkg_of() {
    case $1 in
        gcc) echo gcc ;; pkg-config) echo pkg-config ;; check) echo check ;;
        dot|neato) echo graphviz ;; prlimit|unshare|setpriv) echo util-linux ;;
        timeout) echo coreutils ;; make) echo make ;; nm|objdump|addr2line) echo binutils ;;
        *) echo "$1" ;;
    esac
}

need_tools() {
    missing=""
    for t in $CC pkg-config prlimit timeout nm objdump addr2line; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $(pkg_of "$t")"
    done
    pkg-config --exists check 2>/dev/null || missing="$missing check"
    [ -z "$missing" ] || die "missing:$missing. Install with: sudo apt-get install -y$missing (or run 'make', which installs them when it can)"
    CHECK_LIBS=$(pkg-config --cflags --libs check)
    export CHECK_LIBS
}

# The .ex file of an exercise: the kit's, else the instructor's extra folder.
ex_file() {
    if [ -f "$KIT/tests/$1/$2.ex" ]; then echo "$KIT/tests/$1/$2.ex"; else echo "${EXTRA:-/nonexistent}/$1/$2.ex"; fi
}

# Test sources of an exercise: the kit's, then any hidden ones the instructor added.
test_files() {
    [ -f "$KIT/tests/$1/test_$2.c" ] && echo "$KIT/tests/$1/test_$2.c"
    if [ -n "${EXTRA:-}" ]; then
        for f in "$EXTRA/$1/test_$2.c" "$EXTRA/$1/test_$2"--*.c; do [ -f "$f" ] && echo "$f"; done
    fi
    return 0
}

# The tests a test file lists in tl_tests (TL_RUN, TL_RUN_TIMEOUT, TL_LOOP), space-separated.
test_names() {
    grep -o 'TL_\(RUN\|RUN_TIMEOUT\|LOOP\)([A-Za-z0-9_]*' "$1" | sed 's/.*(//' | tr '\n' ' '
}

# "chapter exercise" lines, optionally only those matching SEL: one or more
# (space-separated) of CH, CH/EX, NN or NN/EX.
list_exercises() {
    for f in "$KIT"/tests/*/*.ex ${EXTRA:+"$EXTRA"/*/*.ex}; do
        [ -f "$f" ] || continue
        ch=$(basename "$(dirname "$f")")
        ex=$(basename "$f" .ex)
        [ -n "$1" ] || { echo "$ch $ex"; continue; }
        for sel in $1; do
            case "$sel" in
                "$ch"|"$ch/$ex"|"${ch%%-*}"|"${ch%%-*}/$ex") echo "$ch $ex" ;;
            esac
        done
    done | sort -u
}

# Which build a pass runs, and with which flags.
variant_of() {
    case $1 in tsan) echo tsan ;; asan) echo asan ;; *) echo func ;; esac
}
variant_flags() {
    case $1 in
        tsan) echo "-O1 -fsanitize=thread" ;;
        asan) echo "-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" ;;
        *) echo "-O2" ;;
    esac
}

# Refuse objects that reach into the grader or run code before main. Prints why.
check_object() {
    bad=$(nm -u "$@" 2>/dev/null | awk '{ print $NF }' |
          grep -E '^(__real_|__wrap_|tl_|tl__|_ck_|ck_|srunner_|tcase_|suite_|_tcase_)' | sort -u | tr '\n' ' ')
    if [ -n "$bad" ]; then
        echo "the submission calls the grader's own functions: $bad"
        return 1
    fi
    for o in "$@"; do
        if objdump -h "$o" 2>/dev/null | grep -Eq '\.(init_array|fini_array|ctors|dtors|preinit_array)'; then
            echo "the submission defines a constructor or destructor (code that runs outside the tests)"
            return 1
        fi
    done
    return 0
}

# A checksum of the kit's own files, to prove grading left them unchanged.
kit_sum() {
    (cd "$KIT" && find kit tests solutions chapters Makefile -type f ! -name '*.o' \
        ! -path 'chapters/*/*.c' 2>/dev/null | sort | xargs cksum 2>/dev/null | cksum)
}

# The kit's objects for each build variant, and the report tool.
build_kit_objects() {
    for v in func tsan asan; do
        mkdir -p "$W/kit/$v"
        # shellcheck disable=SC2046
        $CC $KIT_CFLAGS $(variant_flags "$v") -c "$KIT/kit/wrap/tlwrap.c" -o "$W/kit/$v/tlwrap.o" &&
        $CC $KIT_CFLAGS $(variant_flags "$v") -c "$KIT/kit/trace/trace.c" -o "$W/kit/$v/trace.o" || return 1
    done
    $CC $KIT_CFLAGS -O2 "$KIT"/kit/grade/report/*.c -o "$W/kit/tlreport" -lm
}
