#!/bin/sh
# classroom-check.sh DIR - the classroom packages give the kit's score on every platform.
#
# DESIGN: builds the packages (kit/cmd/classroom.sh, what `make classroom` runs)
# into DIR for a small assignment (01-fork-join/sum and joinall, a few seconds
# each), then runs each package the way its platform does, offline, for four
# submissions: the reference solutions, the untouched skeletons, one file that
# does not compile, one file missing. Each platform's documented rule must give
# exactly the kit's score:
#   GitHub Classroom: every step of classroom.yml run as Actions would, and the
#     grading reporter's own arithmetic (tests/kit/classroom/reporter.jq) on the
#     step outputs: its table total and its Points line;
#   Gradescope: run_autograder in a stand-in /autograder, results.json by the
#     results specification (score, fixed test names and max scores);
#   Autolab: autograde-Makefile with handin.tgz, handin.tar and handin.c, the
#     last output line parsed as Autolab does (after its key rewrite);
# and the trace export (timeline -j) by the trace-event format's rules
# (tests/kit/classroom/trace-rules.jq). Each package's build/ is seeded with
# this checkout's tools (same sources, times kept), so no package rebuilds them.
# Ends with "N passed, N failed".
#
# usage: classroom-check.sh DIR
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
[ $# = 1 ] || die "usage: classroom-check.sh DIR"
D=$1
rm -rf "$D"
mkdir -p "$D/tmp"
D=$(cd "$D" && pwd)
export TMPDIR="$D/tmp" JOBS=1
H=$KIT/tests/kit/classroom
CH=01-fork-join
EXS="sum joinall"
passed=0 failed=0
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
for t in jq base64 unzip tar make; do command -v $t >/dev/null 2>&1 || die "needs $t"; done

# Points of an exercise; the expected score (in quarter points) of each case.
# shellcheck disable=SC1090
pts() { ( . "tests/$CH/$1.ex"; echo "${points:-10}" ); }
P_SUM=$(pts sum) P_JOIN=$(pts joinall)
expect() { # CASE EX -> points expected
    case $1/$2 in solutions/*|broken/sum|missing/sum) pts "$2" ;; *) echo 0 ;; esac
}
total() { t=0; for ex in $EXS; do t=$((t + $(expect "$1" "$ex"))); done; echo $t; }
CASES="solutions skeletons broken missing"

echo "== packages"
if ASSIGNMENT="$CH/sum $CH/joinall" GRADE=all sh kit/cmd/classroom.sh "$D/pkg" >"$D/pkg.log" 2>&1; then
    ok "classroom.sh wrote the packages"
else
    bad "classroom.sh failed:"; tail -n 5 "$D/pkg.log"; exit 1
fi

# The four submissions, as exercise files in $D/sub/<case>/.
for c in $CASES; do mkdir -p "$D/sub/$c"; done
cp "solutions/$CH/sum.c" "solutions/$CH/joinall.c" "$D/sub/solutions/"
cp "$D/pkg/starter/chapters/$CH/sum.c" "$D/pkg/starter/chapters/$CH/joinall.c" "$D/sub/skeletons/"
cp "solutions/$CH/sum.c" "$D/sub/broken/"
{ cat "solutions/$CH/joinall.c"; echo 'int broken(void) { return }'; } >"$D/sub/broken/joinall.c"
cp "solutions/$CH/sum.c" "$D/sub/missing/"

seed_build() { # ROOT: the kit's tools and objects, as built here
    for v in func tsan asan; do
        mkdir -p "$1/build/kit/obj/$v"
        cp -p "build/kit/obj/$v/tlwrap.o" "build/kit/obj/$v/trace.o" "$1/build/kit/obj/$v/" 2>/dev/null
    done
    cp -p build/kit/tlreport build/kit/timeline build/kit/jsoncheck "$1/build/kit/" 2>/dev/null
}

# ------------------------------------------------------------ GitHub Classroom
echo "== GitHub Classroom (workflow steps, the reporter's arithmetic)"
R=$D/github/repo
mkdir -p "$R"
cp -a "$D/pkg/starter/." "$R/"
cp -a "$D/pkg/github/.github" "$R/"
seed_build "$R"
Y=$R/.github/workflows/classroom.yml
steps=$(sed -n 's/^ *run: sh \.github\/classroom\/step\.sh //p' "$Y")
runners=$(sed -n 's/^ *runners: *//p' "$Y")
nsteps=$(printf '%s\n' "$steps" | grep -c .)
nalways=$(grep -c '^ *if: always()' "$Y")
[ "$nalways" = $((nsteps + 1)) ] && ok "every grading step and the reporter run if: always()" ||
    bad "$nalways 'if: always()' for $nsteps steps and the reporter"
if printf '%s' "$runners" | grep -Eq '^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$'; then ok "runners input passes the reporter's own check: $runners"; else bad "runners input '$runners' fails the reporter's check"; fi
for c in $CASES; do
    for ex in $EXS; do cp "$D/pkg/starter/chapters/$CH/$ex.c" "$R/chapters/$CH/"; done
    rm -f "$R/chapters/$CH/joinall.c"
    cp "$D/sub/$c/"*.c "$R/chapters/$CH/"
    O=$D/github/$c
    mkdir -p "$O"
    printf '%s\n' "$steps" | while read -r chex id; do
        (cd "$R" && env -i PATH="$PATH" HOME="$O" TMPDIR="$TMPDIR" JOBS=1 GITHUB_OUTPUT="$O/$id.out" \
            sh .github/classroom/step.sh "$chex" "$id" >"$O/$id.log" 2>&1)
        echo "$id $chex $?" >>"$O/rcs"
    done
    # The reporter's input: each runner's env var, from the step output it names.
    printf '[' >"$O/runners.json"
    sep=""
    for r in $(printf '%s' "$runners" | tr ',' ' '); do
        ru=$(echo "$r" | tr 'a-z' 'A-Z')
        ref=$(sed -n "s/^ *${ru}_RESULTS: \"\${{ steps\.\([a-zA-Z0-9_]*\)\.outputs\.\([a-z]*\) }}\"/\1 \2/p" "$Y")
        s=${ref% *} o=${ref#* }
        val=$(sed -n "s/^$o=//p" "$O/$s.out" 2>/dev/null | tail -n 1)
        js=$(printf '%s' "$val" | base64 -d 2>/dev/null)
        [ -n "$js" ] || { bad "$c: runner $r has no result (env ${ru}_RESULTS)"; js=null; }
        printf '%s{"runner": "%s", "results": %s}' "$sep" "$r" "$js" >>"$O/runners.json"
        sep=,
    done
    printf ']\n' >>"$O/runners.json"
    want=$(total "$c") max=$((P_SUM + P_JOIN))
    if ! jq -f "$H/reporter.jq" "$O/runners.json" >"$O/reporter.json" 2>"$O/reporter.err"; then
        bad "$c: the reporter's arithmetic failed: $(head -c 300 "$O/reporter.err")"; continue
    fi
    errs=$(jq -r '.errors[]' "$O/reporter.json")
    [ -z "$errs" ] || bad "$c: $(printf '%s' "$errs" | head -n 3)"
    got=$(jq -r '"\(.table)/\(.table_max) Points \(.points)/\(.points_max)"' "$O/reporter.json")
    if [ "$got" = "$want/$max Points $want/$max" ]; then ok "$c: reporter table $want/$max, Points $want/$max"; else bad "$c: reporter says $got, the kit $want/$max"; fi
    while read -r id chex rc; do
        lost=$(( $(pts "${chex#*/}") - $(expect "$c" "${chex#*/}") ))
        w=0; [ "$lost" -gt 0 ] && w=1
        [ "$rc" = "$w" ] || bad "$c: step $id exited $rc (lost $lost points)"
    done <"$O/rcs"
    ok "$c: each step's exit status says whether it lost points"
    case $c in
        skeletons) grep -q "not started" "$O/sum01.log" && ok "skeletons: 'not started' (judged by skeletons.sum)" || bad "skeletons: the step log does not say 'not started'" ;;
        broken) grep -q "not started" "$O/joinall01.log" && bad "broken: a changed file is called 'not started'" || ok "broken: a changed, failing file is not 'not started'" ;;
    esac
done

# ------------------------------------------------------------ Gradescope
echo "== Gradescope (run_autograder, results.json by the specification)"
G=$D/gradescope
mkdir -p "$G/source"
(cd "$G/source" && unzip -q "$D/pkg/gradescope/autograder.zip")
seed_build "$G/source/threadlab"
gs_run() { # CASE NAME
    rm -rf "$G/submission" "$G/results"
    mkdir -p "$G/submission"
    cp "$D/sub/$1/"*.c "$G/submission/"
    AUTOGRADER_ROOT=$G sh "$G/source/run_autograder" >"$G/$2.log" 2>&1
    cp "$G/results/results.json" "$G/$2.json" 2>/dev/null
}
for c in $CASES; do
    gs_run "$c" "$c"
    J=$G/$c.json
    if [ ! -s "$J" ] || ! build/kit/jsoncheck "$J" >/dev/null 2>"$G/$c.err"; then bad "$c: results.json invalid: $(head -c 200 "$G/$c.err" 2>/dev/null)"; continue; fi
    want=$(total "$c") max=$((P_SUM + P_JOIN))
    got=$(jq -r '"\(.score) \([.tests[].score] | add) \([.tests[].max_score] | add)"' "$J")
    [ "$got" = "$want $want $max" ] && ok "$c: score $want, tests add up to it, maxima to $max" || bad "$c: score, sum, maxima $got; the kit $want $max"
    jq -c '[.tests[] | [.name, .max_score]]' "$J" >"$G/$c.list"
    jq -e '[.tests[].name] | (map(test("SEED")) | any | not) and (length == (unique | length))' "$J" >/dev/null ||
        bad "$c: test names embed a seed or repeat"
    case $c in
        missing)
            jq -e '(.output | contains("Not submitted (scored 0): 01-fork-join/joinall.c")) and
                   ([.tests[] | select(.name | startswith("01-fork-join/joinall")) | .output | test("not submitted"; "i")] | all) and
                   ([.tests[].output | contains("Did not compile")] | any | not)' "$J" >/dev/null &&
                ok "missing: 'not submitted', named in the output, never 'did not compile'" || bad "missing: not reported as not submitted" ;;
        broken)
            jq -e '[.tests[] | select(.name | startswith("01-fork-join/joinall: ")) | .output | test("Did not compile|Not run")] | all' "$J" >/dev/null &&
                ok "broken: 'did not compile'" || bad "broken: joinall not reported as did not compile" ;;
        skeletons) jq -e '.output | contains("Not started")' "$J" >/dev/null && ok "skeletons: 'not started' in the output" || bad "skeletons: output lacks 'Not started'" ;;
    esac
done
n=$(cat "$G"/*.list | sort -u | wc -l)
[ "$n" = 1 ] && ok "the same test names and max scores in all four submissions" || bad "test names or max scores differ between submissions"
sed -i 's/^GRADE=all/GRADE=submitted/' "$G/source/threadlab/assignment.conf"
gs_run missing submitted
if jq -e --argjson w "$P_SUM" '.score == $w and ([.tests[].name | startswith("01-fork-join/sum")] | all)
        and (.output | contains("not graded in this submission")) and (.output | contains("01-fork-join/joinall.c"))' "$G/submitted.json" >/dev/null; then
    ok "GRADE=submitted: only sum graded ($P_SUM), joinall named as not submitted"
else
    bad "GRADE=submitted: $(jq -c '{score, output}' "$G/submitted.json" 2>/dev/null | head -c 300)"
fi

# ------------------------------------------------------------ Autolab
echo "== Autolab (autograde-Makefile, the last output line)"
A=$D/autolab/run
mkdir -p "$A"
cp "$D/pkg/autolab/autograde-Makefile" "$A/Makefile"
cp "$D/pkg/autolab/autograde.tar" "$A/"
(cd "$A" && tar -xf autograde.tar)
seed_build "$A/threadlab"
problems=$(awk '{ print $1 }' "$D/pkg/autolab/problems.txt" | sort | paste -sd' ' -)
for c in $CASES; do
    rm -f "$A"/handin.*
    case $c in
        solutions) mkdir -p "$D/tgz/chapters/$CH"; cp "$D/sub/$c/"*.c "$D/tgz/chapters/$CH/"
                   (cd "$D/tgz" && tar -czf "$A/handin.tgz" chapters); h=handin.tgz ;;
        missing) cp "$D/sub/$c/sum.c" "$A/handin.c"; h=handin.c ;;
        *) (cd "$D/sub/$c" && tar -cf "$A/handin.tar" ./*.c); h=handin.tar ;;
    esac
    # Tango runs make at the top level: none of make test's own make settings.
    (cd "$A" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make >"$D/autolab/$c.out" 2>&1)
    last=$(tail -n 1 "$D/autolab/$c.out")
    # Autolab rewrites bare keys before it parses: gsub(/([a-zA-Z0-9]+):/, "\"\\1\":").
    rew=$(printf '%s\n' "$last" | sed 's/\([a-zA-Z0-9][a-zA-Z0-9]*\):/"\1":/g')
    want=$(total "$c")
    for line in "$last" "$rew"; do
        got=$(printf '%s\n' "$line" | jq -r '"\(.scores | keys | sort | join(" ")) \(.scores | add)"' 2>/dev/null)
        [ "$got" = "$problems $want" ] || { bad "$c ($h): last line '$line' gives '$got', want '$problems $want'"; continue 2; }
    done
    ok "$c ($h): scores for $problems add up to $want"
done

# ------------------------------------------------------------ trace export
echo "== trace export (timeline -j, the trace-event format's rules)"
if build/kit/timeline -t sample -j "$D/sample.json" tests/kit/sample.trace "$D/sample.dot" 2>/dev/null; then
    errs=$(jq -r -f "$H/trace-rules.jq" "$D/sample.json" 2>&1)
    [ -z "$errs" ] && ok "sample trace: every E named as its B, every flow bound to a slice at its ts" ||
        bad "sample trace: $(printf '%s\n' "$errs" | head -n 3)"
else
    bad "timeline -j failed on tests/kit/sample.trace"
fi
for j in build/traces/*.json; do
    [ -f "$j" ] || continue
    errs=$(jq -r -f "$H/trace-rules.jq" "$j" 2>&1)
    [ -z "$errs" ] || bad "$j: $(printf '%s\n' "$errs" | head -n 2)"
done

printf '\n%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
