#!/bin/sh
# grade.sh - build and run every pass of every exercise, then hand the evidence to tlreport.
#
# DESIGN: the grader trusts nothing the submission can write. Each exercise is
# built in a folder of its own from the submitted .c file(s) and the kit's own
# headers and tests; a build failure is evidence ("did not compile"), never an
# error of the grader. Each pass runs the test binary inside kit/grade/sandbox.sh with
# a secret channel (fd 3, a root-owned file when root) and a fresh nonce; Check's
# verdict counts only for tests whose child wrote "END <nonce>" on that channel.
# This script only collects evidence; kit/grade/report/ judges it and writes every
# output format, so judging has one home.
#
# usage: grade.sh [-s SUBMISSION] [-e CHAPTER/EXERCISE | -e CHAPTER] [-r RESULTS.json]
#                 [-x EXTRA_TESTS] [-k] [-f FORMATS] [-P PASSES] [-b]
#   -s DIR   folder laid out like chapters/ (DIR/<chapter>/<exercise>.c); default: chapters/
#   -e SEL   grade one exercise or one chapter; default: all
#   -r FILE  Gradescope results.json to write (default results/results.json)
#   -x DIR   instructor's extra tests: DIR/<chapter>/test_<exercise>*.c (hidden tests)
#   -k       keep the work folder (printed)
#   -f LIST  extra outputs, comma-separated: tap,junit,autolab,classroom
#   -P LIST  run only these passes (e.g. "func tsan" for a quick progress check)
#   -b       brief: the table and one line of advice per exercise
# Environment: CHAOS_SEED (fixed chaos seed), TL_INPUT_SEED (fixed test inputs),
# JOBS (parallel exercises, default nproc), TL_QUIET=1 (no table on stdout).
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"

# ---------------------------------------------------------------- one exercise
# Runs in a child (xargs) with the settings in the environment.
grade_one() {
    ch=$1 ex=$2
    B=$W/$ch/$ex
    mkdir -p "$B/inc" "$B/obj" "$B/run"
    # shellcheck disable=SC1090
    title="" points=10 passes="func chaos pinned tsan" book="" deps=""
    . "$(ex_file "$ch" "$ex")"
    if [ -n "${ONLY_PASSES:-}" ]; then # -P: the passes both lists name
        keep=""
        for p in $passes; do case " $ONLY_PASSES " in *" $p "*) keep="$keep $p" ;; esac; done
        passes=${keep# }
    fi
    start=$(now_ms)
    {
        echo "chapter=$ch"
        echo "exercise=$ex"
        echo "title=$title"
        echo "points=$points"
        echo "passes=$passes"
        echo "book=$book"
        echo "hints=chapters/$ch/HINTS.md#$ex"
        k=0
        for t in $(test_files "$ch" "$ex"); do
            k=$((k + 1))
            hidden=1 # anything but the kit's own test file is the instructor's
            [ "$t" = "$KIT/tests/$ch/test_$ex.c" ] && hidden=0
            echo "file.$k=$(basename "$t") $hidden $(test_names "$t")"
        done
    } >"$B/meta"
    cp "$KIT/chapters/$ch/"*.h "$B/inc/" 2>/dev/null

    # The submitted sources: the exercise and the exercises it builds on.
    srcs=""
    for unit in $ex $deps; do
        f=$SUB/$ch/$unit.c
        if [ ! -f "$f" ]; then
            printf 'missing file: %s/%s.c was not in the submission\n' "$ch" "$unit" >"$B/compile.log"
            echo "compile=failed" >>"$B/meta"
            finish_one
            return
        fi
        cp "$f" "$B/$unit.c"
        srcs="$srcs $unit"
        # An exercise file still identical to the kit's skeleton has not been started.
        if [ "$unit" = "$ex" ] && git -C "$KIT" show "HEAD:chapters/$ch/$ex.c" 2>/dev/null | cmp -s - "$f"; then
            echo "untouched=1" >>"$B/meta"
        fi
    done

    # Build each variant the passes need: the learner's code with the learner's
    # warnings, the tests and kit with the kit's.
    variants=""
    for p in $passes; do
        v=$(variant_of "$p")
        case " $variants " in *" $v "*) ;; *) variants="$variants $v" ;; esac
    done
    for v in $variants; do
        vf=$(variant_flags "$v")
        mkdir -p "$B/obj/$v"
        objs=""
        for unit in $srcs; do
            # shellcheck disable=SC2086
            if ! $CC $LEARNER_CFLAGS $vf -I"$B/inc" -c "$B/$unit.c" -o "$B/obj/$v/$unit.o" \
                    >>"$B/compile.$v.log" 2>&1; then
                cp "$B/compile.$v.log" "$B/compile.log"
                echo "compile=failed" >>"$B/meta"
                finish_one
                return
            fi
            objs="$objs $B/obj/$v/$unit.o"
        done
        [ "$v" = func ] && cat "$B/compile.func.log" >"$B/warnings.log" 2>/dev/null
        # Sanitizer builds add constructors of their own: judge the plain build only.
        # shellcheck disable=SC2086
        if [ "$v" = func ] && ! check_object $objs >"$B/cheat.log"; then
            echo "compile=cheat" >>"$B/meta"
            finish_one
            return
        fi
        k=0
        for t in $(test_files "$ch" "$ex"); do
            k=$((k + 1))
            # shellcheck disable=SC2086
            if ! $CC $KIT_CFLAGS $vf -I"$B/inc" $KIT_INC -c "$t" -o "$B/obj/$v/test$k.o" \
                    >"$B/testbuild.log" 2>&1 ||
               ! $CC $vf $objs "$B/obj/$v/test$k.o" "$W/kit/$v/tlwrap.o" "$W/kit/$v/trace.o" \
                    $WRAP_FLAGS $CHECK_LIBS -pthread -o "$B/obj/$v/test$k" >>"$B/compile.log" 2>&1; then
                # A link error is the learner's (a missing or clashing function);
                # a test that does not compile against the kit's header is the kit's.
                [ -s "$B/testbuild.log" ] && cat "$B/testbuild.log" >>"$B/compile.log"
                echo "compile=failed" >>"$B/meta"
                finish_one
                return
            fi
        done
    done
    echo "compile=ok" >>"$B/meta"

    # Run every pass of every test file.
    seed=${CHAOS_SEED:-$(rand_u31)}
    iseed=${TL_INPUT_SEED:-$(rand_u31)}
    echo "chaos_seed=$seed" >>"$B/meta"
    echo "input_seed=$iseed" >>"$B/meta"
    k=0
    for t in $(test_files "$ch" "$ex"); do
        k=$((k + 1))
        ntests=$(test_names "$t" | wc -w)
        for p in $passes; do
            v=$(variant_of "$p")
            R=$B/run/$k.$p
            mkdir -p "$R/scratch"
            chmod 1777 "$R/scratch"
            nonce=$(rand_hex)
            : >"$R/secret"
            chmod 600 "$R/secret"
            # The chaos and pinned passes rerun the functional binary: after it hung,
            # they would only hang again, a whole timeout each.
            if [ "$p" = chaos ] || [ "$p" = pinned ]; then
                if grep -q "^HUNG " "$B/run/$k.func/secret" 2>/dev/null; then
                    mkdir -p "$R"
                    echo "not run: the functional pass already hung" >"$R/skipped"
                    continue
                fi
            fi
            mult=1 san=0 pre="" cs=0
            case $p in
                tsan) mult=3 san=1 ;;
                asan) mult=2 san=1 ;;
                pinned) pre="taskset -c 0" ;;
                chaos) cs=$seed mult=2 ;; # the injected sleeps slow every test down
            esac
            {
                echo "pass=$p"
                echo "file=$k"
                echo "nonce=$nonce"
                echo "bin=$B/obj/$v/test$k"
            } >"$R/info"
            wall=$(( (ntests * 5 + 10) * mult ))
            (
                cd "$R/scratch" || exit 1
                # shellcheck disable=SC2086
                env -i PATH="$PATH" HOME="$R/scratch" TMPDIR="$R/scratch" LANG=C \
                    TL_GRADER="3:$nonce" TL_INPUT_SEED="$iseed" TL_TIMEOUT=4 \
                    CK_TIMEOUT_MULTIPLIER="$mult" CK_DEFAULT_TIMEOUT=4 \
                    CHAOS_SEED="$cs" \
                    TSAN_OPTIONS="halt_on_error=1 exitcode=$(tl_exit_code TSAN) second_deadlock_stack=1 report_thread_leaks=1 atexit_sleep_ms=0 log_path=$R/scratch/tsan" \
                    ASAN_OPTIONS="detect_leaks=1 exitcode=$(tl_exit_code ASAN) log_path=$R/scratch/asan" \
                    LSAN_OPTIONS="exitcode=$(tl_exit_code ASAN)" UBSAN_OPTIONS="halt_on_error=1 exitcode=$(tl_exit_code UBSAN) print_stacktrace=1 log_path=$R/scratch/ubsan" \
                    TL_PROTECTIONS="$R/protections" TL_GDB="$(command -v gdb)" \
                    "$KIT/kit/grade/sandbox.sh" "$R/out" "$R/rc" "$wall" "$MEM_MB" "$san" -- \
                    $pre "$B/obj/$v/test$k" 3>>"$R/secret"
            )
        done
    done
    finish_one
}

finish_one() {
    echo "ms=$(( $(now_ms) - start ))" >>"$B/meta"
}

# ------------------------------------------------------------------ main
if [ "${1:-}" = "--one" ]; then
    grade_one "$2" "$3"
    exit 0
fi

SUB=$KIT/chapters SEL="" RESULTS=$KIT/results/results.json EXTRA="" KEEP=0 FORMATS="" BRIEF=""
ONLY_PASSES=""
while getopts s:e:r:x:kf:P:b opt; do
    case $opt in
        s) SUB=$(cd "$OPTARG" 2>/dev/null && pwd) || die "submission folder not found: $OPTARG" ;;
        e) SEL=$OPTARG ;;
        r) RESULTS=$OPTARG ;;
        x) EXTRA=$(cd "$OPTARG" 2>/dev/null && pwd) || die "extra tests folder not found: $OPTARG" ;;
        k) KEEP=1 ;;
        f) FORMATS=$OPTARG ;;
        P) ONLY_PASSES=$OPTARG ;;
        b) BRIEF=-b ;;
        *) die "usage: grade.sh [-s DIR] [-e CH/EX] [-r FILE] [-x DIR] [-k] [-f tap,junit,autolab,classroom]" ;;
    esac
done
need_tools

W=$(mktemp -d "${TMPDIR:-/tmp}/threadlab-grade.XXXXXX") || die "cannot make a work folder"
chmod 755 "$W"
export W SUB EXTRA KIT ONLY_PASSES
[ "$KEEP" = 1 ] || trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

exercises=$(list_exercises "$SEL")
[ -n "$exercises" ] || die "no exercise matches '$SEL'; the exercises are: $(list_exercises "" | tr ' ' '/' | tr '\n' ' ')"

start_all=$(now_ms)
# The submission could only change the kit if it runs as a user who may write it:
# as root the sandbox drops to nobody, and then there is nothing to compare (and
# someone editing the kit beside a grader is no cheat of the submission's).
sum_kit=1
if [ "$(id -u)" = 0 ] && [ "${TL_NO_SANDBOX:-0}" != 1 ] &&
   setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null &&
   [ -z "$(find "$KIT/kit" "$KIT/tests" -perm -o+w ! -type l 2>/dev/null | head -n 1)" ]; then
    sum_kit=0
fi
[ "$sum_kit" = 0 ] || before=$(kit_sum)
build_kit_objects || die "the kit's own support code does not build (see above)"
printf '%s\n' "$exercises" | xargs -P "${JOBS:-$(nproc)}" -L 1 sh "$KIT/kit/grade/grade.sh" --one
if [ "$sum_kit" = 1 ]; then
    after=$(kit_sum)
    [ "$before" = "$after" ] || echo "tampered=1" >"$W/kit.tampered"
fi
echo "ms=$(( $(now_ms) - start_all ))" >"$W/total"

mkdir -p "$(dirname "$RESULTS")"
"$W/kit/tlreport" -w "$W" -k "$KIT" -j "$RESULTS" ${FORMATS:+-f "$FORMATS"} ${TL_QUIET:+-q} $BRIEF \
    ${TL_SUMMARY:+-s "$TL_SUMMARY"}
rc=$?
[ "$KEEP" = 1 ] && echo "work folder kept: $W"
exit $rc
