#!/bin/sh
# chapters.sh - build, run and draw the chapter programs and the learner's exercises.
#
# DESIGN: a chapter program is any chapters/NN-name/*.c without a header of the
# same name (exercises have one). It is built twice: plain, exactly as a learner
# would with `cc -pthread`, and traced, linked with the pthread wrappers so that
# locks, waits, creates and joins land in its timeline without annotations.
#
# usage: chapters.sh programs | exercises | timelines OUTDIR [CH] | run CH | timeline CH/EX OUTDIR [SRCDIR NAME]
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
B=build

programs_of() { # chapter folder -> its program sources
    for f in "$1"/*.c; do
        [ -f "$f" ] && [ ! -f "${f%.c}.h" ] && echo "$f"
    done
    return 0
}

build_programs() {
    ok=0
    for d in chapters/[0-9][0-9]-*; do
        ch=$(basename "$d")
        for f in $(programs_of "$d"); do
            p=$(basename "$f" .c)
            mkdir -p "$B/bin/$ch" "$B/traced/$ch"
            # The traced build also holds the tracer (trace.h) and the wrapped list.
            t=$B/traced/$ch/$p
            # shellcheck disable=SC3013 # -nt: dash, bash and busybox sh all have it
            if [ ! "$B/bin/$ch/$p" -nt "$f" ] || [ ! "$t" -nt "$f" ] || [ ! "$t" -nt "$KIT/kit/wrap/tlwrap.c" ] ||
                [ ! "$t" -nt "$KIT/kit/trace/trace.h" ] || [ ! "$t" -nt "$KIT/kit/wrap/wrapped.def" ]; then
                echo "  CC  $f"
                # shellcheck disable=SC2086
                $CC $KIT_CFLAGS -O2 -pthread "$f" -o "$B/bin/$ch/$p" -lm &&
                $CC $KIT_CFLAGS -O2 -pthread "$f" kit/wrap/tlwrap.c $WRAP_FLAGS -o "$B/traced/$ch/$p" -ldl -lm ||
                    ok=1
            fi
        done
    done
    return $ok
}

build_exercises() {
    mkdir -p "$B/learner"
    bad=0
    for e in tests/[0-9][0-9]-*/*.ex; do
        [ -f "$e" ] || continue
        ch=$(basename "$(dirname "$e")")
        ex=$(basename "$e" .ex)
        f=chapters/$ch/$ex.c
        [ -f "$f" ] || { echo "  missing: $f"; bad=$((bad + 1)); continue; }
        mkdir -p "$B/learner/$ch"
        # shellcheck disable=SC2086
        if ! $CC $LEARNER_CFLAGS -O2 -Ichapters/$ch -c "$f" -o "$B/learner/$ch/$ex.o" 2>"$B/learner/$ch/$ex.log"; then
            echo "  $f does not compile yet:"
            head -n 8 "$B/learner/$ch/$ex.log" | sed 's/^/      /'
            bad=$((bad + 1))
        elif [ -s "$B/learner/$ch/$ex.log" ]; then
            echo "  $f compiles, with warnings:"
            head -n 8 "$B/learner/$ch/$ex.log" | sed 's/^/      /'
        fi
    done
    [ "$bad" = 0 ] && echo "  all exercise files compile"
    return 0
}

# Lanes of static thread functions are named "fn@0xOFFSET" by the wrappers;
# give them their function's name from the program's symbols.
name_lanes() {
    trace=$1 bin=$2
    for off in $(grep -o 'fn@0x[0-9a-f]*' "$trace" | sort -u | sed 's/fn@//'); do
        fn=$(addr2line -f -e "$bin" "$off" 2>/dev/null | head -n 1)
        case "$fn" in ""|"??") continue ;; esac
        sed "s/fn@$off\([^0-9a-f]\|\$\)/$fn\1/g" "$trace" >"$trace.tmp" && mv "$trace.tmp" "$trace"
    done
}

# The wrappers name each lock and condition variable by where to look
# ("mutex-init@0xOFF", "data@0xOFF"); kit/trace/names.sh gives them the
# learner's own names (q->lock, holder.m), the same lookup the grader's
# wait-for graph uses. What tells nothing stays as it is, and the renderer
# numbers it (mutex #1).
name_objs() {
    trace=$1 bin=$2
    grep -q '^obj [^ ]* [a-z]*-init@0x\|^obj [^ ]* data@0x' "$trace" || return 0
    map=$trace.names
    # shellcheck disable=SC2046 # the tags are words
    sh "$KIT/kit/trace/names.sh" "$bin" $(sed -n 's/^obj [^ ]* \([a-z]*-init@0x[0-9a-f]*\|data@0x[0-9a-f]*\)$/\1/p' "$trace" |
        sort -u) >"$map"
    [ -s "$map" ] || { rm -f "$map"; return 0; }
    # A name the program gave itself (tl_trace_name_object) beats one found here.
    awk 'FNR == 1 { pass++ }
         pass == 1 { t = $1; $1 = ""; names[t] = substr($0, 2); next }
         pass == 2 { if ($1 == "obj" && $3 !~ /^([a-z]*-init|data)@0x/) own[$2] = 1; next }
         $1 == "obj" && ($3 in names) { if (!($2 in own)) print $1, $2, names[$3]; next }
         { print }' "$map" "$trace" "$trace" >"$trace.tmp" && mv "$trace.tmp" "$trace"
    rm -f "$map"
}

# Draw one trace as OUT/NAME.svg (+ .dot beside it; Chrome JSON in build/traces).
draw() {
    trace=$1 out=$2 name=$3 title=$4
    if [ -n "${5:-}" ]; then
        name_lanes "$trace" "$5"
        name_objs "$trace" "$5"
    fi
    mkdir -p "$out" "$B/traces"
    "$B/kit/timeline" -t "$title" -j "$B/traces/$name.json" "$trace" "$out/$name.dot" &&
        neato -q -n2 -Tsvg "$out/$name.dot" -o "$out/$name.svg" &&
        echo "  drew $out/$name.svg"
}

# Run a chapter program whose arguments hold {svg}, the path it writes its picture to.
picture() {
    out=$1 ch=$2 name=$3 prog=$4
    shift 4
    svg=$out/$ch--$name.svg
    mkdir -p "$out"
    for a in "$@"; do
        shift
        if [ "$a" = "{svg}" ]; then set -- "$@" "$svg"; else set -- "$@" "$a"; fi
    done
    if "$B/bin/$ch/$prog" "$@" >"$B/traces/$ch--$name.out" 2>&1 && grep -q '<svg' "$svg"; then
        echo "  drew $svg"
    else
        echo "  $ch/$prog $* did not draw $svg:"
        tail -n 5 "$B/traces/$ch--$name.out" | sed 's/^/      /'
        return 1
    fi
}

timelines() {
    out=$1 only=${2:-}
    fail=0
    for d in chapters/"$only"*; do
        case $(basename "$d") in [0-9][0-9]-*) ;; *) continue ;; esac
        ch=$(basename "$d")
        [ -f "$d/timelines" ] || continue
        while IFS= read -r line; do
            case "$line" in ""|"#"*) continue ;; esac
            name=${line%%:*}
            cmd=${line#*:}
            # shellcheck disable=SC2086 # the timelines file gives the arguments as words
            set -- $cmd
            prog=$1
            shift
            mkdir -p "$B/traces"
            case " $* " in *" {svg} "*)
                # A picture the program draws itself (an image tinted by thread, say):
                # it writes the SVG where {svg} stands, with no trace involved.
                picture "$out" "$ch" "$name" "$prog" "$@" || fail=1
                continue ;;
            esac
            tr=$B/traces/$ch--$name.trace
            if ! TL_TRACE=$tr "$B/traced/$ch/$prog" "$@" >"$B/traces/$ch--$name.out" 2>&1; then
                echo "  $ch/$prog $* failed:"
                tail -n 5 "$B/traces/$ch--$name.out" | sed 's/^/      /'
                fail=1
                continue
            fi
            draw "$tr" "$out" "$ch--$name" "$ch: $prog $*" "$B/traced/$ch/$prog" || fail=1
        done <"$d/timelines"
    done
    return $fail
}

run_chapter() {
    sel=$1
    [ -n "$sel" ] || die "say which chapter: make run CH=01 (chapters: $(ls chapters | tr '\n' ' '))"
    for d in chapters/$sel*; do
        [ -d "$d" ] || continue
        ch=$(basename "$d")
        for f in $(programs_of "$d"); do
            p=$(basename "$f" .c)
            echo "== $ch/$p"
            "$B/bin/$ch/$p"
        done
        return 0
    done
    die "no chapter matches '$sel' (chapters: $(ls chapters | tr '\n' ' '))"
}

# The learner's own exercise, run on the chapter's workload, traced and drawn.
# The learner's sources of exercise $1/$2 in folder $3: the exercise and its deps.
ex_sources() {
    deps=""
    # shellcheck disable=SC1090
    [ -f "tests/$1/$2.ex" ] && deps=$(. "./tests/$1/$2.ex"; echo "${deps:-}")
    echo "$3/$1/$2.c"
    for d in $deps; do echo "$3/$1/$d.c"; done
}

# make timeline EX=... SCHED_SEED=N [TEST=name]: the exercise's tests (or one),
# under the sched pass's schedule for seed N, traced in one process. The
# schedule is the one the grader ran (each test's depends on the seed, the
# inputs' seed and its name only), so the picture is the failing run itself.
timeline_sched() {
    ch=$1 ex=$2 out=$3 src=$4
    need_tools
    tf=tests/$ch/test_$ex.c
    [ -f "$tf" ] || die "no tests for $ch/$ex (looked for $tf)"
    bin=$B/timeline/$ch/test_$ex
    mkdir -p "$B/timeline/$ch" "$B/traces"
    # shellcheck disable=SC2046,SC2086 # the sources and flags are lists of words
    $CC $LEARNER_CFLAGS -O2 -Ichapters/$ch $KIT_INC "$tf" $(ex_sources "$ch" "$ex" "$src") kit/wrap/tlwrap.c \
        kit/trace/trace.c $WRAP_FLAGS $CHECK_LIBS -pthread -ldl -o "$bin" ||
        die "your $ch/$ex.c does not compile (see above)"
    name=$ch--$ex--sched$SCHED_SEED${TEST:+--$TEST}
    tr=$B/traces/$name.trace
    rm -f "$tr"
    echo "  running the tests of $ch/$ex${TEST:+ (only $TEST)} with SCHED_SEED=$SCHED_SEED TL_INPUT_SEED=${TL_INPUT_SEED:-1}, one thread at a time"
    TL_TRACE=$tr TL_SCHED_SEED=$SCHED_SEED TL_INPUT_SEED=${TL_INPUT_SEED:-1} CK_FORK=no CK_TIMEOUT_MULTIPLIER=8 \
        env ${TEST:+CK_RUN_CASE="$TEST"} timeout 120 "$bin" 2>&1 | grep -v '^HANG ' | sed 's/^/    /'
    draw "$tr" "$out" "$name" "your $ch/$ex under SCHED_SEED=$SCHED_SEED${TEST:+, test $TEST}" "$bin"
}

timeline_ex() {
    sel=$1 out=$2 src=${3:-chapters} name=${4:-}
    case "$sel" in */*) ;; *) die "say which exercise: make timeline EX=01-fork-join/sum" ;; esac
    ch=${sel%/*} ex=${sel#*/}
    for d in chapters/$ch*; do [ -d "$d" ] && ch=$(basename "$d") && break; done
    if [ -n "${SCHED_SEED:-}" ]; then
        timeline_sched "$ch" "$ex" "$out" "$src"
        return
    fi
    w=tests/$ch/workload_$ex.c
    [ -f "$w" ] || die "no workload for $ch/$ex (looked for $w)"
    srcs=$(ex_sources "$ch" "$ex" "$src")
    mkdir -p "$B/timeline/$ch"
    # shellcheck disable=SC2086
    $CC $LEARNER_CFLAGS -O2 -Ichapters/$ch $KIT_INC $w $srcs kit/wrap/tlwrap.c kit/trace/trace.c $WRAP_FLAGS \
        -pthread -ldl -o "$B/timeline/$ch/$ex" || die "your $ch/$ex.c does not compile (see above)"
    tr=$B/traces/${name:-$ch--$ex}.trace
    mkdir -p "$B/traces"
    if [ "$src" = chapters ] && is_skeleton "$ch" "$ex" "chapters/$ch/$ex.c"; then
        die "chapters/$ch/$ex.c is still the kit's skeleton: there is nothing of yours to draw yet. Write it first (its contract is chapters/$ch/$ex.h; make hint EX=$ch/$ex helps), then run make timeline EX=$ch/$ex again."
    fi
    TL_TRACE=$tr timeout 20 "$B/timeline/$ch/$ex" || echo "  (the workload exited with status $?; drawing what it recorded)"
    if [ -n "$name" ]; then
        draw "$tr" "$out" "$name" "$name at work" "$B/timeline/$ch/$ex"
    else
        draw "$tr" "$out" "$ch--$ex" "your $ch/$ex at work" "$B/timeline/$ch/$ex"
    fi
}

case "${1:-}" in
    programs) build_programs ;;
    exercises) build_exercises ;;
    timelines) timelines "${2:-build/timelines}" "${3:-}" ;;
    run) run_chapter "${2:-}" ;;
    timeline) timeline_ex "${2:-}" "${3:-build/timelines}" "${4:-chapters}" "${5:-}" ;;
    *) die "usage: chapters.sh programs|exercises|timelines OUT|run CH|timeline CH/EX OUT" ;;
esac
