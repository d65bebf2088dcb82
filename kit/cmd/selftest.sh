#!/bin/sh
# selftest.sh - `make test`: the kit proves its tests can fail, and do not fail the right answer.
#
# DESIGN: a grader is only as good as what it rejects. So the self-test grades
#   1. every reference solution, which must score full marks (twice: a flake
#      shows up as a difference),
#   2. the untouched skeletons, which must score zero on every exercise,
#   3. every known-buggy variant (tests/<chapter>/bugs/<ex>--<what>.c) and every
#      hostile submission (tests/kit/hostile/*.c), each of which must lose
#      points AND be diagnosed with the class its first line declares
#      (`/* expect: data-race */`, alternatives `a|b`),
# then checks that the kit's files were left unchanged and no process was left
# behind, that book.md's excerpts match the sources, that the diagrams can be
# redrawn, and that every results.json is valid. It ends with the plain line
# "N passed, N failed".
#
# usage: selftest.sh        (TL_SELFTEST_QUICK=1 skips the second solutions run)
# Environment: CH=NN (or a chapter name) checks one chapter and the hostile
# submissions aimed at it; TL_SELFTEST_DIR puts the work elsewhere than build/selftest
# (two self-tests at once on one checkout need two folders).
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
need_tools
if [ ! -d solutions ]; then
    echo "This is a student starter (no solutions/): 'make test' checks the kit itself and needs them."
    echo "Check your own work with: make progress, make grade EX=<chapter>/<exercise>."
    exit 0
fi
B=${TL_SELFTEST_DIR:-$KIT/build/selftest}
ONLY=${CH:-}
rm -rf "$B"
mkdir -p "$B"
# The grader's work folders go under a folder of our own, so that what is left
# running afterwards can be told from any other grading on the machine.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/threadlab-selftest.XXXXXX") || exit 2
chmod 755 "$TMPDIR"
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
T0=$(date +%s)
# A section's heading, with the minutes and seconds since the suite began.
section() { e=$(( $(date +%s) - T0 )); printf '\n== %s  [%d:%02d]\n' "$*" $((e / 60)) $((e % 60)); }

# Grade SUBMISSION into DIR (results.json + summary); quiet.
grade_into() {
    sub=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    TL_QUIET=1 TL_SUMMARY=$dir/summary sh kit/grade/grade.sh -s "$sub" -r "$dir/results.json" "$@" \
        >"$dir/log" 2>&1
    if "$KIT/build/kit/jsoncheck" "$dir/results.json" >/dev/null 2>"$dir/jsoncheck"; then :; else
        bad "results.json of $sub is not valid: $(cat "$dir/jsoncheck")"
    fi
}

section "kit code and chapter programs build with -Werror"
for t in timeline tlreport jsoncheck; do
    if [ -x "build/kit/$t" ]; then ok "build/kit/$t"; else bad "build/kit/$t does not build"; fi
done
if sh kit/cmd/chapters.sh programs >"$B/programs.log" 2>&1; then ok "chapter programs (plain and traced)"; else
    bad "a chapter program does not build:"; sed 's/^/      /' "$B/programs.log" | head -n 20
fi
for f in chapters/[0-9][0-9]-*/*.c solutions/[0-9][0-9]-*/*.c; do
    ch=$(basename "$(dirname "$f")")
    # shellcheck disable=SC2086
    if $CC $KIT_CFLAGS -O2 -Ichapters/$ch $KIT_INC -c "$f" -o "$B/obj.o" 2>"$B/cc.log"; then :; else
        bad "$f has warnings or errors:"; head -n 10 "$B/cc.log" | sed 's/^/      /'
    fi
done
ok "skeletons and solutions compile warning-free"

# The pristine skeletons: from git when we are in a checkout (the learner may have edited chapters/).
SKEL=$B/skeletons
mkdir -p "$SKEL"
if git rev-parse --git-dir >/dev/null 2>&1 && git ls-files --error-unmatch chapters >/dev/null 2>&1; then
    git archive HEAD chapters | tar -x -C "$B" && rm -rf "$SKEL" && mv "$B/chapters" "$SKEL"
else
    cp -r chapters/. "$SKEL/"
fi

before=$(kit_sum)

section "reference solutions score full marks"
grade_into solutions "$B/solutions" ${ONLY:+-e "$ONLY"} &
TL_GRADE_SKELETONS=1 grade_into "$SKEL" "$B/skeletons" ${ONLY:+-e "$ONLY"} &
wait
while read -r name score max cls _seeds; do
    if [ "$score" = "$max" ]; then ok "$name $score/$max"; else bad "$name scored $score/$max ($cls): see below"; fi
done <"$B/solutions/summary"
if awk '$4 != "passed"' "$B/solutions/summary" | grep -q .; then
    sh kit/grade/grade.sh -s solutions -e "$(awk '$4 != "passed" { print $1; exit }' "$B/solutions/summary")" \
        -r "$B/solutions/again.json" | tail -n 30
fi

section "every kit test says what it checks (TL_INTENT)"
# The objects are the grader's own, cached while it graded the solutions above.
# shellcheck disable=SC2034 # KB is read by common.sh's test_object
KB=$(kit_build_dir "$B/kitbuild")
list_exercises "$ONLY" | while read -r ch ex; do
    t=tests/$ch/test_$ex.c
    [ -f "$t" ] || continue
    o=$(test_object "$KIT/$t" func "$KIT/chapters/$ch" "$B/intent-cc.log") || { bad "$t does not compile"; continue; }
    n=$(test_names "$o" | wc -w)
    missing=$(test_intents "$o" | awk -F '\t' '$2 == "" { printf "%s ", $1 }')
    if [ "$n" -gt 0 ] && [ -z "$missing" ]; then ok "$t: all $n tests have an intent"; else
        bad "$t: no TL_INTENT for: ${missing:-its tests could not be listed}"; fi
done >"$B/intents.log"
cat "$B/intents.log"
passed=$((passed + $(grep -c '^  ok' "$B/intents.log"))) failed=$((failed + $(grep -c '^  FAIL' "$B/intents.log")))

section "untouched skeletons score zero"
while read -r name score max cls _seeds; do
    if [ "$score" = "0.00" ]; then ok "$name 0/$max ($cls)"; else bad "$name: the skeleton scored $score/$max"; fi
done <"$B/skeletons/summary"

section "known-buggy variants and hostile submissions are rejected with their class"
# Each variant becomes a submission: the chapter's solutions with one file replaced.
: >"$B/variants.list"
known_bad "$ONLY" >"$B/known-bad.list"
while read -r id ch ex expect f; do
    f=${f#"$KIT"/}
    if [ "$expect" = - ]; then bad "$f: no '/* expect: <class> */' on its first lines"; continue; fi
    d=$B/variants/$id
    mkdir -p "$d/sub/$ch"
    cp solutions/"$ch"/*.c "$d/sub/$ch/"
    cp "$f" "$d/sub/$ch/$ex.c"
    echo "$d $ch/$ex $expect $f" >>"$B/variants.list"
done <"$B/known-bad.list"
# The classroom packages are checked beside the variants (they grade a few
# submissions of their own, each platform's rule applied to what it writes).
sh tests/kit/classroom-check.sh "$B/classroom" >"$B/classroom.log" 2>&1 &
classroom_pid=$!
# Two variants per CPU at a time: a grade spends much of its time blocked (a
# hanging variant waits for its watchdog), and its verdict does not depend on the
# load. Each grade itself runs its exercise's passes in sequence.
# TL_SPEED=0: the known-buggy variants do not pay for the speed probe.
export KIT B
# shellcheck disable=SC2016
awk '{ print $1, $2 }' "$B/variants.list" |
    JOBS=1 TL_SPEED=0 xargs -P "${TL_SELFTEST_JOBS:-$(( $(nproc) * 2 ))}" -L 1 sh -c 'TL_QUIET=1 TL_SUMMARY="$0/summary" sh "$KIT/kit/grade/grade.sh" -s "$0/sub" -e "$1" -k -r "$0/results.json" >"$0/log" 2>&1'
while read -r d _target expect f; do
    if [ ! -s "$d/summary" ]; then bad "$f: the grader gave no verdict"; sed 's/^/      /' "$d/log" | tail -n 5; continue; fi
    read -r name score max cls _seeds <"$d/summary"
    "$KIT/build/kit/jsoncheck" "$d/results.json" >/dev/null 2>&1 || bad "$f: results.json is not valid"
    case "|$expect|" in
        *"|$cls|"*)
            if [ "$score" != "$max" ]; then ok "$f -> $cls ($score/$max)"; else bad "$f: full marks despite $cls"; fi ;;
        *) bad "$f: expected $expect, the grader said $cls ($score/$max)" ;;
    esac
done <"$B/variants.list"

# A hang's wait-for table names each mutex and condition variable as the
# timeline does (kit/trace/names.sh): every object of the kit's variants was
# initialised in code built with debug info, so none should be left a bare
# number. A namer that is broken numbers them in every report; one report with
# one numbered object (seen once in CI, a schedule we could not reproduce) is
# shown as a note with its sentence, so that it can be traced, and not failed.
objs=$(cat "$B"/variants/*/results.json 2>/dev/null |
    grep -o 'waits \(on condition variable\|to lock mutex\) [^ ,]*' | sed 's/.* //' | sort -u)
numbered=$(grep -l 'waits \(on condition variable\|to lock mutex\) #' "$B"/variants/*/results.json 2>/dev/null)
if [ -n "$objs" ]; then
    if [ "$(echo "$numbered" | grep -c .)" -ge 2 ]; then
        bad "wait-for tables number what they could name, in $(echo "$numbered" | grep -c .) grades: $(echo "$objs" | tr '\n' ' ')"
    else
        ok "wait-for tables name their objects as the timeline does: $(echo "$objs" | grep -v '^#' | head -n 4 | tr '\n' ' ')"
    fi
    for f in $numbered; do
        printf '  note  a numbered object in %s: %s\n' "$(basename "$(dirname "$f")")" \
            "$(grep -o '[^\\"]*waits \(on condition variable\|to lock mutex\) #[^\\"]*' "$f" | head -n 1 | sed 's/^n\{0,1\} *//')"
    done
fi

section "classroom packages: every platform's own rule gives the kit's score"
if wait "$classroom_pid"; then ok "tests/kit/classroom-check.sh: $(tail -n 1 "$B/classroom.log")"; else
    bad "the classroom packages do not score as the kit does:"; grep -E 'FAIL' "$B/classroom.log" | head -n 20 | sed 's/^/      /'
fi

# The sched pass's own check (kit/cmd/schedcheck.sh; book B.1) on the test
# binaries the grades above built (-k kept them): 2 seeds, 3 replays, no chaos
# runs (the measured run in book B.1 compares with chaos). -s: how many
# seeds a variant takes is reported; a replay that differs fails.
while read -r d target expect f; do
    w=$(sed -n 's/^work folder kept: //p' "$d/log")
    [ -n "$w" ] && echo "$(basename "$d") ${target%/*} ${target#*/} $expect $f $w/$target"
done <"$B/variants.list" >"$B/sched-work.list"
if [ "${TL_SELFTEST_QUICK:-0}" != 1 ]; then
    section "the sched pass: the known bugs it finds, in how many seeds; every failing seed replayed"
    if sh kit/cmd/schedcheck.sh -s -C -n 2 -r 3 -w "$B/sched-work.list" "$B/sched" >"$B/sched.log" 2>&1; then
        ok "$(tail -n 1 "$B/sched.log")"
    else
        bad "the sched pass's check failed (build/selftest/sched.log):"; grep -E 'replay differs|weaker|never found|schedcheck' "$B/sched.log" | head -n 10 | sed 's/^/      /'
    fi
    [ -s "$B/sched/table.txt" ] && cat "$B/sched/table.txt"
    [ -s "$B/sched/limits" ] && cat "$B/sched/limits"
    # The README's way to draw a failing seed: the scheduler's verdict must
    # still write the trace (it holds the schedule's lock while it does).
    if [ -z "$ONLY" ] || [ "$ONLY" = 05 ] || [ "$ONLY" = 05-pipeline ]; then
        rm -rf "$B/seed-timeline" && mkdir -p "$B/seed-timeline/sub/05-pipeline"
        cp solutions/05-pipeline/*.c "$B/seed-timeline/sub/05-pipeline/"
        cp tests/05-pipeline/bugs/chan--close-forgets-receivers.c "$B/seed-timeline/sub/05-pipeline/chan.c"
        if SCHED_SEED=1 sh kit/cmd/chapters.sh timeline 05-pipeline/chan "$B/seed-timeline" "$B/seed-timeline/sub" \
                >"$B/seed-timeline/log" 2>&1 && [ -s "$B/seed-timeline/05-pipeline--chan--sched1.svg" ]; then
            ok "make timeline SCHED_SEED=1 draws a lost wake-up the scheduler stopped (chan--close-forgets-receivers)"
        else
            bad "make timeline SCHED_SEED=1 drew nothing for chan--close-forgets-receivers:"; tail -n 5 "$B/seed-timeline/log" | sed 's/^/      /'
        fi
    fi
    if sh kit/cmd/schedcheck.sh -f 5 ${ONLY:+-e "$ONLY"} "$B/sched-fair" >"$B/sched-fair.log" 2>&1; then
        ok "$(head -n 1 "$B/sched-fair.log")"
    else
        bad "the sched pass failed a reference solution:"; sed 's/^/      /' "$B/sched-fair.log" | head -n 10
    fi
fi

section "an instructor's hidden tests (EXTRA_TESTS) are graded and kept hidden"
grade_into solutions "$B/extra" -e 01-fork-join/sum -x tests/kit/extra
if jq -e '.tests[] | select(.name == "01-fork-join/sum: negative numbers cancel out" and .status == "passed" and .score == .max_score and .visibility == "after_due_date")' "$B/extra/results.json" >/dev/null; then
    ok "hidden test graded, passed by the solution, visible after the due date"
else
    bad "the hidden test from tests/kit/extra is missing from results.json or not hidden"
fi
TL_GRADE_SKELETONS=1 grade_into "$SKEL" "$B/extra-skel" -e 01-fork-join/sum -x tests/kit/extra
if jq -e '.tests[] | select(.name == "01-fork-join/sum: negative numbers cancel out" and .score == 0)' "$B/extra-skel/results.json" >/dev/null; then
    ok "hidden test fails the skeleton"; else bad "the hidden test does not fail the skeleton"; fi
# A hidden test that does not build is the course's fault, and the report says so.
mkdir -p "$B/extra-broken-tests/01-fork-join"
printf '#include "tlcheck.h"\nTL_TEST(broken) { no such thing; }\n' >"$B/extra-broken-tests/01-fork-join/test_sum--broken.c"
grade_into solutions "$B/extra-broken" -e 01-fork-join/sum -x "$B/extra-broken-tests"
if jq -e '[.tests[].output] | (any(test("not of your code"))) and (all(test("Bug class") | not))' \
        "$B/extra-broken/results.json" >/dev/null; then
    ok "a hidden test that does not compile is reported as the kit's fault, not the submission's"
else
    bad "a hidden test that does not compile is blamed on the submission (see $B/extra-broken/results.json)"
fi

section "grading leaves the kit unchanged and nothing running"
after=$(kit_sum)
if [ "$before" = "$after" ]; then ok "kit files unchanged"; else bad "the kit's files changed during grading"; fi
sleep 1
# A process still running from one of our grading folders was left behind.
left=$(ps -e -o args= | awk -v top="$TMPDIR/" 'index($1, top) == 1' | head -n 3)
if [ -z "$left" ]; then ok "no test process left running"; else bad "processes left behind: $left"; fi

if [ "${TL_SELFTEST_QUICK:-0}" != 1 ]; then
    section "solutions pass a second time (new seeds)"
    grade_into solutions "$B/solutions2" ${ONLY:+-e "$ONLY"}
    while read -r name score max cls _seeds; do
        [ "$score" = "$max" ] || bad "$name scored $score/$max on the second run ($cls) - a flaky test?"
    done <"$B/solutions2/summary"
    ok "second run: $(awk '$2 == $3' "$B/solutions2/summary" | wc -l) of $(wc -l <"$B/solutions2/summary") exercises full marks"
fi

section "known-buggy variants differ from their solutions only where a BUG comment says"
if sh kit/cmd/bugcheck.sh >"$B/bugcheck.log" 2>&1; then
    ok "$(ls tests/[0-9][0-9]-*/bugs/*--*.c | wc -l) variants in the one header format, every change marked"
else
    bad "known-buggy variants drifted from their solutions:"; sed 's/^/      /' "$B/bugcheck.log" | head -n 20
fi

section "make bench still builds and computes the right answers (a seconds-long smoke run, nothing timed)"
if sh kit/bench/bench.sh --smoke >"$B/bench.log" 2>&1; then ok "$(tail -n 1 "$B/bench.log")"; else
    bad "the benchmark smoke run broke:"; grep -E 'FAILED|error' "$B/bench.log" | head -n 10 | sed 's/^/      /'; fi

section "book.md and diagrams"
if sh kit/cmd/book.sh check >"$B/book.log" 2>&1; then ok "$(cat "$B/book.log")"; else bad "book.md excerpts drifted:"; sed 's/^/      /' "$B/book.log" | head -n 20; fi
# README's table of bug classes names every class the grader can give.
unlisted=$(sed -n 's/^TL_CLASS([A-Z_]*, "\([a-z-]*\)".*/\1/p' kit/proto/protocol.def |
    while read -r c; do grep -q "^| \`$c\` |" README.md || printf '%s ' "$c"; done)
if [ -z "$unlisted" ]; then ok "README lists every bug class"; else bad "README's class table lacks: $unlisted"; fi
if sh kit/cmd/links.sh >"$B/links.log" 2>&1; then ok "$(tail -n 1 "$B/links.log")"; else
    bad "links or images that do not resolve:"; sed 's/^/      /' "$B/links.log" | head -n 20; fi
if command -v pandoc >/dev/null 2>&1; then
    nimg=$(grep -c '^!\[.*\](diagrams/.*\.svg)' book.md)
    if sh kit/cmd/book.sh html "$B/book.html" >"$B/html.log" 2>&1 &&
       [ "$(grep -c '<svg' "$B/book.html")" -ge "$nimg" ]; then
        ok "make book writes one HTML page with its $nimg diagrams inline"
    else
        bad "make book's HTML page: $(cat "$B/html.log")"
    fi
fi
nbook=0 ntag=0
for ex in tests/[0-9][0-9]-*/*.ex; do
    # shellcheck disable=SC1090
    b=$( . "./$ex"; echo "${book:-}")
    if [ -n "$b" ] && grep -Fqx "### $b" book.md 2>/dev/null; then nbook=$((nbook + 1)); else
        bad "$ex: its book section \"$b\" is not a heading of book.md"; fi
done
ok "$nbook exercises point to a heading of book.md"
for ch in chapters/[0-9][0-9]-*; do
    n=$(basename "$ch")
    for ex in tests/"$n"/*.ex; do
        [ -f "$ex" ] || continue
        e=$(basename "$ex" .ex)
        if ! grep -q "^## $e\$" "$ch/HINTS.md" 2>/dev/null; then bad "$ch/HINTS.md has no '## $e' section"
        elif [ "$(sh kit/cmd/hint.sh "$n/$e" count 2>&1)" -lt 2 ] 2>/dev/null; then
            bad "$ch/HINTS.md: '## $e' needs at least two numbered hints for make hint"
        fi
        [ -f "$ch/$e.h" ] || bad "$ch/$e.h (the contract) is missing"
        # make hint starts where the last grade failed: each class a known
        # bug of the exercise gets needs a hint that says it is about it.
        for c in $(awk 'FNR == 1 && sub(/.*expect: */, "") { sub(/[^a-z|-].*/, ""); print }' \
                       tests/"$n"/bugs/"$e"--*.c 2>/dev/null | tr '|' '\n' | sort -u); do
            if [ -n "$(sh kit/cmd/hint.sh "$n/$e" "for:$c" 2>/dev/null)" ]; then ntag=$((ntag + 1)); else
                bad "$ch/HINTS.md: no hint of '## $e' is tagged <!-- for: $c --> (a known bug of it is $c)"; fi
        done
    done
    for c in $(sed -n 's/^ *<!-- for: \(.*\) -->$/\1/p' "$ch/HINTS.md"); do
        grep -q "^TL_CLASS([A-Z_]*, \"$c\"" kit/proto/protocol.def || bad "$ch/HINTS.md tags a hint for '$c', which is no bug class"
    done
done
ok "make hint has a hint for each of the $ntag classes the known bugs get, exercise by exercise"
if sh kit/cmd/chapters.sh timelines "$B/diagrams" >"$B/diagrams.log" 2>&1; then
    n=0
    for s in "$B"/diagrams/*.svg; do
        if grep -q '<svg' "$s"; then n=$((n + 1)); else bad "$s is not an SVG"; fi
    done
    for s in diagrams/*.svg; do
        [ -f "$s" ] || continue
        [ -f "$B/diagrams/$(basename "$s")" ] || bad "$s is no longer drawn by any chapter's timelines file"
    done
    ok "redrew $n diagrams from traced runs"
    for j in build/traces/*.json; do
        [ -f "$j" ] || continue
        build/kit/jsoncheck -s "$j" >/dev/null 2>"$B/json.err" || bad "$j (Chrome trace JSON) is not valid: $(cat "$B/json.err")"
    done
    ok "their Chrome/Perfetto trace JSON parses"
else
    bad "diagrams do not redraw:"; sed 's/^/      /' "$B/diagrams.log" | tail -n 10
fi
if [ -f tests/kit/sample.trace ]; then
    if build/kit/timeline -t sample -j "$B/sample.json" tests/kit/sample.trace "$B/sample.dot" &&
       neato -n2 -Tsvg "$B/sample.dot" -o "$B/sample.svg" &&
       build/kit/jsoncheck -s "$B/sample.json" >/dev/null; then ok "timeline renderer on tests/kit/sample.trace (SVG and JSON)"; else bad "timeline renderer failed on the sample trace"; fi
fi
# The axis break: where nothing happens on the scheduler's clock, never where a thread may be computing.
brk() { build/kit/timeline -t "$1" "tests/kit/$1.trace" "$B/$1.dot" 2>/dev/null &&
        neato -n2 -Tsvg "$B/$1.dot" -o "$B/$1.svg" && grep -c 'nothing was traced' "$B/$1.svg"; }
if [ "$(brk break)" = 1 ] && [ "$(brk break-real)" = 0 ]; then
    ok "timeline breaks its axis over 4 s of nothing (break.trace), not over a thread at work (break-real.trace)"
else
    bad "timeline's axis break: break.trace should have one, break-real.trace none"
fi

printf '\n%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
