# common.sh - settings and small functions shared by the kit's shell scripts.
# Sourced, never run. Expects KIT (the kit's root folder) to be set.
# shellcheck shell=sh

CC=${CC:-gcc}
# A variable of kit/cmd/flags.mk (the Makefile includes the same file).
mk_var() { sed -n "s/^$1 *= *//p" "$KIT/kit/cmd/flags.mk"; }
KIT_CFLAGS=$(mk_var KIT_CFLAGS)
# shellcheck disable=SC2034 # used by the scripts that source this file
LEARNER_CFLAGS=$(mk_var LEARNER_CFLAGS)
# Where tests and workloads find the kit's headers (tlcheck.h, tltest.h, trace.h).
KIT_INC="-I$KIT/kit/check -I$KIT/kit/trace"
# The linker's --wrap options, one per line of kit/wrap/wrapped.def.
WRAP_FLAGS=-Wl,$(sed -n 's/^TL_WRAPPED([^,]*, *\([a-z_]*\),.*/--wrap=\1/p' "$KIT/kit/wrap/wrapped.def" | paste -sd, -)
# An exit status of kit/proto/protocol.def: tl_exit_code TSAN -> 66.
tl_exit_code() { sed -n "s/^TL_EXIT($1, *\([0-9]*\),.*/\1/p" "$KIT/kit/proto/protocol.def"; }
# shellcheck disable=SC2034 # used by grade.sh
MEM_MB=${TL_MEM_MB:-2048}

die() {
    printf 'threadlab: %s\n' "$*" >&2
    exit 2
}

# How many times slower than when idle a test may run now: 1 up to two runnable
# processes per CPU (the tests' timeouts leave that much room by themselves), then
# one more for each two, at most 3; the runnable count or the 1-minute load
# average, whichever is higher. The grader scales every timeout by it, so load
# alone never turns a slow but correct test into a hang; a real hang still ends,
# only later on a busy machine.
load_factor() {
    awk -v n="$(nproc)" '/^procs_running/ { r = $2 - 1 }
        END { getline l <"/proc/loadavg"; split(l, a, " "); x = (a[1] > r ? a[1] : r) / n / 2
              f = int(x); if (f < x) f++; if (f < 1) f = 1; if (f > 3) f = 3; print f }' /proc/stat
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
    for t in $CC pkg-config prlimit timeout nm objdump addr2line make flock; do
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

# The known-buggy variants and hostile submissions, optionally of chapter $1 only
# (NN or its name): one line each, "ID CHAPTER EXERCISE EXPECT FILE", where
# EXPECT is the class (or a|b) that the file's first lines declare, "-" if none.
known_bad() {
    for f in "$KIT"/tests/[0-9][0-9]-*/bugs/*--*.c "$KIT"/tests/kit/hostile/*.c; do
        [ -f "$f" ] || continue
        case "$f" in
            */tests/kit/hostile/*)
                target=$(sed -n 's/.*exercise: *\([^ ]*\/[^ ]*\).*/\1/p' "$f" | head -n 1)
                c=${target%/*} e=${target#*/} ;;
            *)
                c=$(basename "$(dirname "$(dirname "$f")")")
                e=$(basename "$f" .c)
                e=${e%%--*} ;;
        esac
        if [ -n "${1:-}" ]; then case "$c" in "$1"|"$1"-*) ;; *) continue ;; esac; fi
        expect=$(sed -n '1,3s/.*expect: *\([a-z|-]*\).*/\1/p' "$f" | head -n 1)
        echo "$c--$(basename "$f" .c) $c $e ${expect:--} $f"
    done
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

# Where the kit's build outputs go (KB): the kit's build/ when this user may
# write it, else the folder $1 (then nothing is kept between runs).
kit_build_dir() {
    if mkdir -p "$KIT/build/kit" 2>/dev/null && [ -w "$KIT/build/kit" ]; then echo "$KIT/build"; else echo "$1"; fi
}

# The kit's objects for each build variant and the report writer, built in one
# place: the Makefile's `grader-tools` target, into $KB. Parallel graders take
# turns on a lock, so only the first one after a change builds. Returns make's status.
build_kit_objects() {
    mkdir -p "$KB/kit" || return 1
    flock "$KB/kit/.lock" make -s --no-print-directory -C "$KIT" BUILD="$KB" CC="$CC" grader-tools
}

# The object of test file $1 for variant $2 (chapter headers in folder $3),
# compiled once and kept under $KB: it depends on the kit only, never on the
# submission. Prints its path; compiler messages go to file $4. Returns 1 when
# the test does not compile. Two graders may build the same object at once:
# each writes a file of its own and renames it, so a reader never sees half.
test_object() {
    vf=$(variant_flags "$2")
    key=$({ echo "$CC $KIT_CFLAGS $vf $KIT_INC"; $CC -dumpfullversion 2>/dev/null
            cat "$1" "$3"/*.h "$KIT"/kit/check/*.h "$KIT"/kit/wrap/*.h "$KIT"/kit/wrap/*.def \
                "$KIT"/kit/proto/* "$KIT"/kit/trace/*.h; } 2>/dev/null | cksum | tr ' ' '-')
    obj=$KB/kit/obj/$2/tests/$(basename "$1" .c).$key.o
    if [ ! -f "$obj" ]; then
        mkdir -p "$(dirname "$obj")"
        # shellcheck disable=SC2086
        $CC $KIT_CFLAGS $vf -I"$3" $KIT_INC -c "$1" -o "$obj.$$" >"$4" 2>&1 || { rm -f "$obj.$$"; return 1; }
        mv -f "$obj.$$" "$obj"
    fi
    echo "$obj"
}

# The names of the tests in the functional test object $1, space-separated, in
# the order they run: the binary's own `--list`. The object is linked with the
# kit alone (the submission's symbols left unresolved: --list never calls them),
# so the names are known even when the submission does not compile. Cached
# beside the object, with the tests' intents (test_intents).
test_names() {
    if [ ! -f "$1.names" ] || [ ! -f "$1.intents" ]; then
        # shellcheck disable=SC2086
        $CC -no-pie "$1" "$KB/kit/obj/func/tlwrap.o" "$KB/kit/obj/func/trace.o" $WRAP_FLAGS $CHECK_LIBS \
            -pthread -Wl,--unresolved-symbols=ignore-all -o "$1.lister.$$" 2>/dev/null &&
            "$1.lister.$$" --intents >"$1.intents.$$" && mv -f "$1.intents.$$" "$1.intents" &&
            "$1.lister.$$" --list >"$1.names.$$" && mv -f "$1.names.$$" "$1.names"
        rm -f "$1.lister.$$" "$1.names.$$" "$1.intents.$$"
    fi
    tr '\n' ' ' <"$1.names" 2>/dev/null
}

# What each test of the functional test object $1 checks, one sentence a test
# (its TL_INTENT): "<name><TAB><sentence>" lines, the sentence empty when the
# test has none. Call test_names first: it makes the cache this reads.
test_intents() {
    cat "$1.intents" 2>/dev/null
}

# Whether file $3 is still the skeleton of exercise $1/$2 that the kit shipped:
# its checksum is in kit/grade/skeletons.sum (sha256sum's format, written by
# classroom.sh into every package), else, in the kit's own checkout, the file
# is the one git has at HEAD. A package never asks git: in a student's
# repository HEAD is the student's own commit.
is_skeleton() {
    sums=$KIT/kit/grade/skeletons.sum
    if [ -f "$sums" ]; then
        h=$(sha256sum <"$3" | cut -d' ' -f1)
        grep -qx "$h  chapters/$1/$2.c" "$sums"
    else
        git -C "$KIT" show "HEAD:chapters/$1/$2.c" 2>/dev/null | cmp -s - "$3"
    fi
}
