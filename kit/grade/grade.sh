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
# usage: grade.sh [-s DIR] [-e SEL] [-r FILE] [-x DIR] [-k] [-f LIST] [-P LIST] [-b]
#   -s DIR   folder laid out like chapters/ (DIR/<chapter>/<exercise>.c); default: chapters/
#   -e SEL   grade one exercise or one chapter (CH, CH/EX, NN or NN/EX; several
#            space-separated); default: all
#   -r FILE  Gradescope results.json to write (default results/results.json)
#   -x DIR   instructor's extra tests: DIR/<chapter>/test_<exercise>*.c (hidden tests)
#   -k       keep the work folder (printed)
#   -f LIST  extra outputs, comma-separated: tap,junit,autolab,classroom
#   -P LIST  run only these passes (e.g. "func tsan" for a quick progress check)
#   -b       brief: the table and one line of advice per exercise
# Environment: CHAOS_SEED (fixed chaos seed), SCHED_SEED (fixed schedule of the
# sched pass), TL_INPUT_SEED (fixed test inputs),
# TL_SPEED=0 (no speed probe: see measure_speed),
# JOBS (parallel exercises, default nproc), TL_QUIET=1 (no table on stdout),
# TL_SUMMARY=FILE (one line per exercise, for the self-test and soak).
#
# The kit's objects and tools are built once, by the Makefile (`make tools`,
# under a lock so that parallel graders take turns); each test file is compiled
# once per build variant and kept in build/kit/obj/<variant>/tests/ (it depends
# on the kit only). Per exercise, only the submission is compiled and linked.
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"

USAGE="usage: grade.sh [-s DIR] [-e CH/EX] [-r FILE] [-x DIR] [-k] [-f tap,junit,autolab,classroom] [-P PASSES] [-b]"

# ---------------------------------------------------------------- one exercise
# Runs in a child (xargs) with the settings in the environment. Each step leaves
# its evidence in $B (meta, compile.log, run/<file>.<pass>/); a step that fails
# ends the exercise with compile=<why> in meta.
grade_one() {
    ch=$1 ex=$2
    B=$W/$ch/$ex
    mkdir -p "$B/inc" "$B/obj" "$B/run"
    start=$(now_ms)
    cp "$KIT/chapters/$ch/"*.h "$B/inc/" 2>/dev/null
    read_exercise
    untouched=0
    if ! build_tests; then
        # The kit's test (or an instructor's hidden one) does not build: no
        # submission is to blame, and none is graded against half its tests.
        write_meta
        echo "compile=kit" >>"$B/meta"
        printf 'grade: the tests of %s/%s do not compile (the kit'"'"'s fault, not the submission'"'"'s): see the report\n' \
            "$ch" "$ex" >&2
    elif write_meta && copy_sources; then
        # A skeleton nobody has started scores zero without running its tests
        # (seconds instead of a minute per exercise in make progress);
        # TL_GRADE_SKELETONS=1 runs them, as make test does to prove they fail.
        if [ "$untouched" = 1 ] && [ "${TL_GRADE_SKELETONS:-0}" != 1 ]; then
            echo "compile=untouched" >>"$B/meta"
        elif build_variants; then
            echo "compile=ok" >>"$B/meta"
            run_passes
            measure_speed
        fi
    fi
    ms=$(( $(now_ms) - start ))
    echo "ms=$ms" >>"$B/meta"
    # A progress line for whoever watches a terminal (never into results or logs).
    if [ -t 2 ] && [ -z "${TL_QUIET:-}" ]; then
        printf '  graded %s/%s (%d.%d s)\n' "$ch" "$ex" $((ms / 1000)) $((ms % 1000 / 100)) >&2
    fi
}

# The exercise's settings from its .ex file (title points passes book deps), the
# passes cut down to those -P names; the build variants they need.
read_exercise() {
    title="" points=10 passes="func chaos pinned tsan" book="" deps=""
    # shellcheck disable=SC1090
    . "$(ex_file "$ch" "$ex")"
    if [ -n "${ONLY_PASSES:-}" ]; then
        keep=""
        for p in $passes; do case " $ONLY_PASSES " in *" $p "*) keep="$keep $p" ;; esac; done
        passes=${keep# }
    fi
    variants="func" # the functional build always: it lists the tests
    for p in $passes; do
        v=$(variant_of "$p")
        case " $variants " in *" $v "*) ;; *) variants="$variants $v" ;; esac
    done
}

# Compile (or take from the cache) each test file for each variant, and learn its
# test names from the binary. A test that does not compile against the kit's
# header is the kit's fault, shown in compile.log; then it returns 1. Writes
# $B/files (file.<k> lines).
build_tests() {
    kit_broken=0 k=0
    for t in $(test_files "$ch" "$ex"); do
        k=$((k + 1))
        for v in $variants; do
            mkdir -p "$B/obj/$v"
            o=$(test_object "$t" "$v" "$KIT/chapters/$ch" "$B/testbuild.log") || {
                cat "$B/testbuild.log" >>"$B/compile.log"
                kit_broken=1
                continue
            }
            ln -sf "$o" "$B/obj/$v/test$k.o"
        done
        names=""
        [ -e "$B/obj/func/test$k.o" ] && names=$(test_names "$(readlink "$B/obj/func/test$k.o")")
        hidden=1 # anything but the kit's own test file is the instructor's
        [ "$t" = "$KIT/tests/$ch/test_$ex.c" ] && hidden=0
        echo "file.$k=$(basename "$t") $hidden $names" >>"$B/files"
        # What each test checks, for the report: intent.<k>.<test>=<sentence>.
        [ -e "$B/obj/func/test$k.o" ] && test_intents "$(readlink "$B/obj/func/test$k.o")" |
            awk -F '\t' -v k="$k" '$2 != "" { print "intent." k "." $1 "=" $2 }' >>"$B/files"
    done
    return "$kit_broken"
}

# meta: what the report needs to know about the exercise before any verdict.
write_meta() {
    {
        echo "chapter=$ch"
        echo "exercise=$ex"
        echo "title=$title"
        echo "points=$points"
        echo "passes=$passes"
        echo "book=$book"
        echo "hints=chapters/$ch/HINTS.md#$ex"
        # An exercise with a workload can draw the learner's own timeline.
        [ -f "$KIT/tests/$ch/workload_$ex.c" ] && echo "timeline=1"
        cat "$B/files" 2>/dev/null
    } >"$B/meta"
    return 0
}

# Copy the submitted sources (the exercise and the exercises it builds on) into
# $B; sets srcs. A file not submitted is compile=missing, missing=<ch>/<file>.c.
copy_sources() {
    srcs=""
    for unit in $ex $deps; do
        f=$SUB/$ch/$unit.c
        if [ ! -f "$f" ]; then
            printf 'compile=missing\nmissing=%s/%s.c\n' "$ch" "$unit" >>"$B/meta"
            return 1
        fi
        cp "$f" "$B/$unit.c"
        srcs="$srcs $unit"
        # An exercise file still identical to the kit's skeleton has not been started.
        if [ "$unit" = "$ex" ] && is_skeleton "$ch" "$ex" "$f"; then
            echo "untouched=1" >>"$B/meta"
            untouched=1
        fi
    done
    return 0
}

# Build each variant, all at once (they are independent): the learner's code with
# the learner's warnings (never fatal), refused when it reaches into the grader,
# then linked with the cached test objects and the kit's objects. Returns 1
# (meta says why, compile.log shows the first failing variant's messages) on failure.
build_variants() {
    for v in $variants; do build_variant "$v" & done
    wait
    [ "$(cat "$B/obj/func/status")" = failed ] || cat "$B/compile.func.log" >"$B/warnings.log" 2>/dev/null
    for v in $variants; do
        st=$(cat "$B/obj/$v/status" 2>/dev/null || echo failed)
        [ "$st" = ok ] && continue
        cat "$B/compile.$v.log" >>"$B/compile.log" 2>/dev/null
        echo "compile=$st" >>"$B/meta"
        return 1
    done
    return 0
}

# One variant $1 of the exercise into $B/obj/$1/; writes ok, failed or cheat
# into $B/obj/$1/status and the compiler's and linker's messages into
# $B/compile.$1.log.
build_variant() {
    v=$1 vf=$(variant_flags "$1") objs="" log=$B/compile.$1.log
    echo failed >"$B/obj/$v/status"
    for unit in $srcs; do
        # shellcheck disable=SC2086
        $CC $LEARNER_CFLAGS $vf -I"$B/inc" -c "$B/$unit.c" -o "$B/obj/$v/$unit.o" >>"$log" 2>&1 || return
        objs="$objs $B/obj/$v/$unit.o"
    done
    # Sanitizer builds add constructors of their own: judge the plain build only.
    # shellcheck disable=SC2086
    if [ "$v" = func ] && ! check_object $objs >"$B/cheat.log"; then
        echo cheat >"$B/obj/$v/status"
        return
    fi
    k=0
    for _t in $(test_files "$ch" "$ex"); do
        k=$((k + 1))
        # A link error is the learner's (a missing or clashing function).
        # shellcheck disable=SC2086
        $CC $vf $objs "$B/obj/$v/test$k.o" "$KB/kit/obj/$v/tlwrap.o" "$KB/kit/obj/$v/trace.o" \
            $WRAP_FLAGS $CHECK_LIBS -pthread -o "$B/obj/$v/test$k" >>"$log" 2>&1 || return
    done
    echo ok >"$B/obj/$v/status"
}

# The speed probe (kit/grade/speed.c) of the exercises that are about speed:
# the learner's build and, when the kit has solutions/, the reference's, run
# in turns (A B A B, 3 rounds) in the sandbox; each run's "par_s serial_s"
# goes into $B/speed as "me ..." or "ref ..." lines, for the report to take
# medians of. Information only: it never reaches a score. Skipped with
# TL_SPEED=0, and when a functional pass did not end with every test passed
# (a wrong or hung submission has no speed worth showing).
measure_speed() {
    case $ch/$ex in
        02-data-parallelism/rows) sf=-DSPEED_ROWS ;;
        08-work-stealing/join) sf=-DSPEED_JOIN ;;
        *) return 0 ;;
    esac
    [ "${TL_SPEED:-1}" != 0 ] || return 0
    for o in "$B"/run/*.func; do
        if [ "$(cat "$o/rc" 2>/dev/null)" != 0 ] ||
            ! awk '$1 == "RES" { n++; if ($5 != "P") bad = 1 } $1 == "HUNG" { bad = 1 } END { exit bad || !n }' "$o/secret"; then
            echo "skipped: the functional pass did not pass" >"$B/speed"
            return 0
        fi
    done
    S=$B/speed.d
    mkdir -p "$S/scratch" && chmod 1777 "$S/scratch"
    # The learner's side reuses the functional build's objects (-O2, no
    # wrappers before the link); the reference is built meanwhile. The probe
    # must stay well under 2 s an exercise.
    lobj=""
    for unit in $srcs; do lobj="$lobj $B/obj/func/$unit.o"; done
    # Both sides link the same probe object; the reference is compiled like the
    # learner's functional build (LEARNER_CFLAGS, -O2).
    $CC -O2 -fno-optimize-sibling-calls $sf -I"$B/inc" -c "$KIT/kit/grade/speed.c" -o "$S/speed.o" >"$S/build.log" 2>&1 ||
        { echo "skipped: the probe does not build" >"$B/speed"; return 0; }
    # shellcheck disable=SC2086
    $CC -pthread "$S/speed.o" $lobj -o "$S/me" >>"$S/build.log" 2>&1 &
    # The reference stays in the grader: linked from solutions/ only when the
    # kit has it (a student's package does not), never copied to the learner.
    rsrc=""
    for unit in $ex $deps; do rsrc="$rsrc $KIT/solutions/$ch/$unit.c"; done
    # shellcheck disable=SC2086
    [ -d "$KIT/solutions/$ch" ] &&
        $CC $LEARNER_CFLAGS -O2 -pthread -I"$B/inc" $rsrc "$S/speed.o" \
            -o "$S/ref" >"$S/build.ref.log" 2>&1 &
    wait
    [ -x "$S/me" ] || { echo "skipped: the probe does not build" >"$B/speed"; return 0; }
    sides=me
    [ -x "$S/ref" ] && sides="me ref"
    # One sandbox for every round (starting one costs more than a run).
    # shellcheck disable=SC2016,SC2086 # the loop runs inside the sandbox; sides is a list
    (cd "$S/scratch" && env -i PATH="$PATH" HOME="$S/scratch" TMPDIR="$S/scratch" LANG=C \
        "$KIT/kit/grade/sandbox.sh" "$S/out" "$S/rc" 20 "$MEM_MB" 0 -- \
        sh -c 'd=$1; shift; for r in 1 2 3; do for s in "$@"; do printf "%s " "$s"; "$d/$s" || exit 1; done; done' \
        probe "$S" $sides </dev/null)
    if [ "$(cat "$S/rc" 2>/dev/null)" = 0 ] && ! grep -qv '^[a-z]* [0-9.]* [0-9.]*$' "$S/out"; then
        cp "$S/out" "$B/speed"
    else
        echo "skipped: the probe failed: $(tr '\n' ' ' <"$S/out" | cut -c1-100)" >"$B/speed"
    fi
}

# Run every pass of every test file, each in the sandbox with a channel and a
# nonce of its own; the pass's wall time goes into its info as ms=.
run_passes() {
    seed=${CHAOS_SEED:-$(rand_u31)}
    iseed=${TL_INPUT_SEED:-$(rand_u31)}
    sseed=${SCHED_SEED:-$(rand_u31)}
    echo "chaos_seed=$seed" >>"$B/meta"
    echo "sched_seed=$sseed" >>"$B/meta"
    echo "input_seed=$iseed" >>"$B/meta"
    k=0
    for _t in $(test_files "$ch" "$ex"); do
        k=$((k + 1))
        for p in $passes; do
            run_pass "$k" "$p"
        done
    done
}

# One pass $2 of test file $1, into $B/run/$1.$2/.
run_pass() {
    k=$1 p=$2
    v=$(variant_of "$p")
    R=$B/run/$k.$p
    mkdir -p "$R/scratch"
    # The chaos, pinned and sched passes rerun the functional binary: after it hung,
    # they would only hang again, a whole timeout each.
    if { [ "$p" = chaos ] || [ "$p" = pinned ] || [ "$p" = sched ]; } && grep -q "^HUNG " "$B/run/$k.func/secret" 2>/dev/null; then
        echo "not run: the functional pass already hung" >"$R/skipped"
        return
    fi
    chmod 1777 "$R/scratch"
    nonce=$(rand_hex)
    : >"$R/secret"
    chmod 600 "$R/secret"
    mult=1 san=0 pre="" cs=0 ss=0
    case $p in
        tsan) mult=3 san=1 ;;
        asan) mult=2 san=1 ;;
        pinned) pre="taskset -c 0" ;;
        chaos) cs=$seed mult=2 ;; # the injected sleeps slow every test down
        sched) ss=$sseed mult=8 ;; # the schedule's virtual clock stops a test at 2x; the real watchdog is a backstop
    esac
    # Every timeout (Check's, the watchdog's, the tests' bounded waits, the grace
    # for stray processes) scales with CK_TIMEOUT_MULTIPLIER: the pass's own
    # slowness times the machine's load now.
    mult=$((mult * $(load_factor)))
    # Check's timeout ends each hung test (the watchdog a little before it), and
    # after a hang the rest are not run; so the wall clock only stops a runner
    # that cannot report at all. It allows every test its whole timeout, twice
    # over, and the runner's grace for stray processes: load never reaches it.
    ntests=$(sed -n "s/^file\.$k=//p" "$B/files" | cut -d' ' -f3- | wc -w)
    wall=$(( (ntests * TEST_TIMEOUT * 2 + 30) * mult ))
    {
        echo "pass=$p"
        echo "file=$k"
        echo "nonce=$nonce"
        echo "bin=$B/obj/$v/test$k"
        echo "timeout_scale=$mult"
    } >"$R/info"
    t0=$(now_ms)
    (
        cd "$R/scratch" || exit 1
        # shellcheck disable=SC2086
        env -i PATH="$PATH" HOME="$R/scratch" TMPDIR="$R/scratch" LANG=C \
            TL_GRADER="3:$nonce" TL_INPUT_SEED="$iseed" TL_TIMEOUT="$TEST_TIMEOUT" \
            CK_TIMEOUT_MULTIPLIER="$mult" CK_DEFAULT_TIMEOUT="$TEST_TIMEOUT" \
            CHAOS_SEED="$cs" TL_SCHED_SEED="$ss" \
            TSAN_OPTIONS="halt_on_error=1 exitcode=$(tl_exit_code TSAN) second_deadlock_stack=1 report_thread_leaks=1 atexit_sleep_ms=0 log_path=$R/scratch/tsan" \
            ASAN_OPTIONS="detect_leaks=1 exitcode=$(tl_exit_code ASAN) log_path=$R/scratch/asan" \
            LSAN_OPTIONS="exitcode=$(tl_exit_code ASAN)" UBSAN_OPTIONS="halt_on_error=1 exitcode=$(tl_exit_code UBSAN) print_stacktrace=1 log_path=$R/scratch/ubsan" \
            TL_PROTECTIONS="$R/protections" TL_GDB="$(command -v gdb)" \
            "$KIT/kit/grade/sandbox.sh" "$R/out" "$R/rc" "$wall" "$MEM_MB" "$san" -- \
            $pre "$B/obj/$v/test$k" 3>>"$R/secret"
    )
    echo "ms=$(( $(now_ms) - t0 ))" >>"$R/info"
}

# ------------------------------------------------------------------ main
TEST_TIMEOUT=4 # seconds per test before the pass's multiplier (Check's default timeout)
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
        *) die "$USAGE" ;;
    esac
done
need_tools

W=$(mktemp -d "${TMPDIR:-/tmp}/threadlab-grade.XXXXXX") || die "cannot make a work folder"
chmod 755 "$W"
KB=$(kit_build_dir "$W/build")
export W SUB EXTRA KIT ONLY_PASSES KB
[ "$KEEP" = 1 ] || trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

exercises=$(list_exercises "$SEL")
[ -n "$exercises" ] || die "no exercise matches '$SEL'; the exercises are: $(list_exercises "" | tr ' ' '/' | tr '\n' ' ')"

start_all=$(now_ms)
# The submission could only change the kit if it runs as a user who may write it:
# as root the sandbox drops to a uid of its own, and then there is nothing to
# compare (and someone editing the kit beside a grader is no cheat of the submission's).
sum_kit=1
probe=$(( ${TL_UID_BASE:-1600000000} + $$ ))
if [ "$(id -u)" = 0 ] && [ "${TL_NO_SANDBOX:-0}" != 1 ] &&
   setpriv --reuid="$probe" --regid="$probe" --clear-groups true 2>/dev/null &&
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
summary=${TL_SUMMARY:-$W/summary}
"$KB/kit/tlreport" -w "$W" -k "$KIT" -j "$RESULTS" ${FORMATS:+-f "$FORMATS"} ${TL_QUIET:+-q} $BRIEF \
    -s "$summary"
rc=$?
# The learner's own exercises: keep each one's last class, so that make hint
# can start at the hint about it (kit/cmd/hint.sh). Never for a submission
# graded from elsewhere, and a kit the grader may not write loses nothing.
if [ "$SUB" = "$KIT/chapters" ] && [ -z "${TL_SUMMARY:-}" ] && [ -f "$summary" ]; then
    mkdir -p "$KIT/build/hints" 2>/dev/null &&
        while read -r chex _ _ cls _; do
            grep -q '^untouched=1' "$W/$chex/meta" 2>/dev/null && cls=not-started
            echo "$cls" >"$KIT/build/hints/$(echo "$chex" | sed 's|/|--|').last" 2>/dev/null
        done <"$summary"
fi
[ "$KEEP" = 1 ] && echo "work folder kept: $W"
exit $rc
