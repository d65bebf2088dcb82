#!/bin/sh
# classroom.sh - package the kit for a class (make classroom [EXTRA_TESTS=DIR]
# [ASSIGNMENT="SEL"] [GRADE=all|submitted]).
#
# DESIGN: grading a class runs on the fleets schools already use; the kit only
# provides the packages, and each platform's own arithmetic must land on the
# kit's score. Everything is produced from this checkout:
#   OUT/starter/            what students get: chapters, book, kit, visible tests;
#                           no solutions, no known-buggy variants
#   OUT/gradescope/autograder.zip   setup.sh + run_autograder + the kit (+ hidden tests)
#   OUT/github/.github/     workflows/classroom.yml (one step per exercise, two
#                           runners each for GitHub Classroom's grading reporter)
#                           and classroom/step.sh (what each step runs)
#   OUT/autolab/            autograde-Makefile + autograde.tar; problems.txt names the
#                           lab's problems, one per exercise; README.txt the settings
# Every package carries kit/grade/skeletons.sum (the checksums of the skeletons it
# ships), so "not started" means "still the skeleton we shipped", never "the same
# as git's HEAD" (in a student's repository HEAD is the student's own commit).
# The assignment (ASSIGNMENT: CH, CH/EX, NN or NN/EX, space-separated; default:
# every exercise) fixes the steps, the problems and the Gradescope tests; GRADE
# says what Gradescope grades: "all" (every exercise of the assignment, one not
# uploaded scores 0 as not submitted; the default) or "submitted" (only the
# exercises uploaded; the output names the others). Both are in the packages'
# threadlab/assignment.conf, which a teacher may also edit there.
# Hidden tests (EXTRA_TESTS=DIR, laid out DIR/<chapter>/test_<exercise>*.c) go into
# the Gradescope and Autolab packages only, never into the starter.
#
# usage: classroom.sh OUT
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2
OUT=${1:-classroom}
EXTRA=${EXTRA_TESTS:-}
[ -z "$EXTRA" ] || EXTRA=$(cd "$EXTRA" && pwd) || die "extra tests folder not found: $EXTRA_TESTS"
ASSIGNMENT=${ASSIGNMENT:-}
GRADE=${GRADE:-all}
case $GRADE in all|submitted) ;; *) die "GRADE must be all or submitted, not '$GRADE'" ;; esac
exercises=$(list_exercises "$ASSIGNMENT")
[ -n "$exercises" ] || die "no exercise matches ASSIGNMENT='$ASSIGNMENT'"
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# What a grading machine must install (kit/cmd/deps.sh checks the same tools).
PACKAGES="gcc make pkg-config check libjansson-dev jq graphviz util-linux binutils gdb"
# The assignment as grade.sh selects it: "ch/ex ch/ex ...".
SEL=$(printf '%s\n' "$exercises" | tr ' ' '/' | paste -sd' ' -)

# The kit's files as git knows them (or all files outside build outputs).
kit_files() {
    if git rev-parse --git-dir >/dev/null 2>&1; then git ls-files; else
        find . -type f ! -path './build/*' ! -path './results/*' ! -path './classroom/*' ! -path './.git/*' | sed 's|^\./||'
    fi
}

copy_tree() { # DEST FILTER-REGEX-TO-DROP (times kept, so a copied build stays up to date)
    mkdir -p "$1"
    kit_files | grep -Ev "$2" | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done |
        tar --no-recursion -cf - -T - | tar -xf - -C "$1"
}

# The skeletons' checksums, in sha256sum's format, into DEST/kit/grade/skeletons.sum.
skeleton_sums() {
    list_exercises "" | while read -r ch ex; do
        [ -f "$1/chapters/$ch/$ex.c" ] && (cd "$1" && sha256sum "chapters/$ch/$ex.c")
    done >"$1/kit/grade/skeletons.sum"
}

# The assignment's settings, read by run_autograder and autolab.sh.
assignment_conf() {
    cat >"$1/assignment.conf" <<EOF
# threadlab assignment settings (written by make classroom; edit them here if you like).
# The exercises of the assignment: CH, CH/EX, NN or NN/EX, space-separated.
ASSIGNMENT="$SEL"
# Gradescope: all = grade every exercise of the assignment (one not uploaded scores 0,
# "not submitted"); submitted = grade only the exercises uploaded (the output names the rest).
GRADE=$GRADE
# Autolab with a single handin.c: the exercise it is (CH/EX); empty = the one whose
# header the file includes.
EXERCISE=""
EOF
}

# The kit with hidden tests and settings, for a grading machine: into $1/threadlab.
grading_kit() {
    copy_tree "$1/threadlab" '^(solutions/|tests/[^/]+/bugs/|tests/kit/hostile/|\.ci/|diagrams/)'
    [ -n "$EXTRA" ] && { mkdir -p "$1/threadlab/hidden-tests"; cp -r "$EXTRA"/. "$1/threadlab/hidden-tests/"; }
    skeleton_sums "$1/threadlab"
    assignment_conf "$1/threadlab"
    place_script >"$1/threadlab/place.sh"
}

# place.sh: put each submitted file where grade.sh looks for it, by its name.
place_script() {
    cat <<'EOF'
#!/bin/sh
# place.sh FROM TO - put each exercise file found under FROM (any depth) into
# TO/<chapter>/<exercise>.c, by its name; prints "placed CH/EX" or "ignored FILE"
# lines. Sourced settings: KIT (the kit's root), EXTRA (hidden tests or empty).
set -u
. "$KIT/kit/cmd/common.sh"
mkdir -p "$2"
find "$1" -name '*.c' -type f | sort | while IFS= read -r f; do
    ex=$(basename "$f" .c)
    hit=$(list_exercises "" | awk -v e="$ex" '$2 == e { print $1; exit }')
    if [ -z "$hit" ]; then echo "ignored ${f#"$1"/}"; continue; fi
    [ -f "$2/$hit/$ex.c" ] && { echo "ignored ${f#"$1"/} (a second $ex.c)"; continue; }
    mkdir -p "$2/$hit"
    cp "$f" "$2/$hit/$ex.c"
    echo "placed $hit/$ex"
done
EOF
}

# 1. Student starter.
copy_tree "$OUT/starter" '^(solutions/|tests/[^/]+/bugs/|tests/kit/hostile/|\.ci/)'
skeleton_sums "$OUT/starter"
echo "  wrote $OUT/starter (no solutions, no known-buggy variants)"

# 2. Gradescope.
G=$OUT/gradescope/build
grading_kit "$G"
cat >"$G/setup.sh" <<EOF
#!/bin/sh
# Runs once, as root, when Gradescope builds the autograder image.
set -eu
apt-get update -q
apt-get install -y -q $PACKAGES
EOF
cat >"$G/run_autograder" <<'EOF'
#!/bin/sh
# Gradescope runs this as root for each submission. It always writes results.json.
# The settings are in threadlab/assignment.conf (ASSIGNMENT, GRADE).
set -u
AG=${AUTOGRADER_ROOT:-/autograder} # the platform's folder (another one for a test run)
SRC=$AG/source/threadlab
SUB=$AG/submission
RES=$AG/results/results.json
PLACED=${TMPDIR:-/tmp}/threadlab-sub
mkdir -p "$AG/results"
rm -rf "$PLACED" "$RES"
ASSIGNMENT="" GRADE=all
. "$SRC/assignment.conf"
EXTRA="" extra=""
[ -d "$SRC/hidden-tests" ] && EXTRA=$SRC/hidden-tests extra="-x $SRC/hidden-tests"
export KIT="$SRC" EXTRA
. "$SRC/kit/cmd/common.sh"
# Students may upload chapter folders or bare files; each exercise file is placed by name.
notes=$(sh "$SRC/place.sh" "$SUB" "$PLACED" | sed -n 's/^ignored \(.*\)/Ignored (no exercise of that name): \1/p')
sel="" skipped=""
for chex in $(list_exercises "$ASSIGNMENT" | tr ' ' '/'); do
    if [ "$GRADE" = all ] || [ -f "$PLACED/$chex.c" ]; then sel="$sel $chex"; else skipped="$skipped $chex.c"; fi
done
# Nothing of the assignment uploaded: grade it all, so every exercise says "not submitted".
[ -n "$sel" ] || { sel=$(list_exercises "$ASSIGNMENT" | tr ' ' '/' | paste -sd' ' -); skipped=""; }
[ -z "$skipped" ] || notes="$notes${notes:+
}Not submitted, so not graded in this submission (Gradescope keeps only the latest one: upload every file of the assignment each time):$skipped"
cd "$SRC" && sh kit/grade/grade.sh -s "$PLACED" -e "$sel" -r "$RES" $extra
if [ ! -s "$RES" ]; then
    printf '{"score": 0, "output": "The grader failed before producing results; please tell your instructor.", "tests": []}\n' >"$RES"
fi
if [ -n "$notes" ] && jq --arg n "$notes" '.output = $n + "\n" + .output' "$RES" >"$RES.new" 2>/dev/null; then
    mv "$RES.new" "$RES"
fi
rm -f "$RES.new"
exit 0
EOF
chmod +x "$G/setup.sh" "$G/run_autograder"
if (cd "$G" && rm -f ../autograder.zip && zip -qr ../autograder.zip setup.sh run_autograder threadlab); then
    rm -rf "$G"
else
    echo "  (zip not installed: the autograder is in $G; apt-get install zip for the .zip)"
fi
cat >"$OUT/gradescope/README.txt" <<EOF
Upload autograder.zip as a Gradescope "Autograder" assignment (Ubuntu base image).
Settings: at least 2 CPUs and 2 GB of memory, timeout 10 minutes (the defaults of
0.5 CPU and 768 MB are too small for a threads lab). Students upload their exercise
files (e.g. sum.c, ticker.c); folders are accepted too. Each exercise is graded
separately; the leaderboard shows the total score.

This package's assignment: $SEL
Grading: GRADE=$GRADE. "all" grades every exercise of the assignment in every
submission (one not uploaded scores 0, "not submitted"), so every submission has
the same tests with the same maximum scores; "submitted" grades only the exercises
uploaded and names the others in the output. Change either in
threadlab/assignment.conf inside the zip, or rebuild:
    make classroom ASSIGNMENT="01-fork-join 03-background-thread/ticker" GRADE=submitted
EOF
[ -f "$OUT/gradescope/autograder.zip" ] && echo "  wrote $OUT/gradescope/autograder.zip"

# 3. GitHub Classroom: one step per exercise, whose two runners (points earned,
# points lost) the reporter adds up; see kit/grade/report/out_classroom.c.
# A step id: the exercise's name (letters and digits, at most 10) and the
# chapter's number, e.g. ticker03; runner ids add Passed/Failed (<= 18 characters,
# so the reporter's table shows them whole).
step_id() { printf '%s%s' "$(printf '%s' "$2" | tr -cd 'a-zA-Z0-9' | cut -c1-10)" "$(printf '%s' "${1%%-*}" | tr -cd '0-9')"; }
ids=$(printf '%s\n' "$exercises" | while read -r ch ex; do step_id "$ch" "$ex"; echo; done)
dup=$(printf '%s\n' "$ids" | sort | uniq -d | head -n 1)
[ -z "$dup" ] || die "two exercises share the GitHub Classroom id $dup; rename one"
W=$OUT/github/.github
mkdir -p "$W/workflows" "$W/classroom"
cat >"$W/classroom/step.sh" <<'EOF'
#!/bin/sh
# step.sh CH/EX ID - one step of .github/workflows/classroom.yml: grade one exercise
# with the kit (its report goes into the step's log), then hand the reporter the
# exercise's two runners as the step's outputs `passed` and `failed` (base64 of
# GitHub Classroom's result JSON). Always writes both, so the reporter prints its
# Points line even when the grader fails. Exits 1 when the exercise lost points.
set -u
chex=$1 id=$2
ch=${chex%/*} ex=${chex#*/}
mkdir -p results
rm -f "results/classroom-$ch-$ex-passed.json" "results/classroom-$ch-$ex-failed.json"
# Within the step's own timeout, so the outputs are written whatever happens.
timeout -s TERM -k 10 540 make grade EX="$chex" FORMATS=classroom RESULTS="results/$id.json"
points=$( . "tests/$ch/$ex.ex" 2>/dev/null; echo "${points:-10}")
for side in passed failed; do
    f=results/classroom-$ch-$ex-$side.json
    if [ ! -s "$f" ]; then
        if [ "$side" = passed ]; then max=0 st=pass name="no points earned yet"; else max=$points st=fail name="the grader did not finish"; fi
        printf '{"version": 1, "status": "%s", "max_score": %s, "tests": [{"name": "%s: %s", "status": "fail", "score": 0, "line_no": 0, "message": "see the log of this step"}]}\n' \
            "$st" "$max" "$chex" "$name" >"$f"
    fi
    echo "$side=$(base64 -w0 <"$f")" >>"${GITHUB_OUTPUT:-/dev/null}"
done
if grep -q '"status": "fail"' "results/classroom-$ch-$ex-failed.json" 2>/dev/null; then
    echo "$chex lost points: this step fails (the reporter still runs and adds up every exercise)."
    exit 1
fi
exit 0
EOF
chmod +x "$W/classroom/step.sh"
{
    cat <<'EOF'
name: Autograding Tests
on: [push, workflow_dispatch, repository_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Install dependencies
EOF
    printf '        run: sudo apt-get update -q && sudo apt-get install -y -q %s\n' "$PACKAGES"
    printf '%s\n' "$exercises" | while read -r ch ex; do
        id=$(step_id "$ch" "$ex")
        cat <<EOF
      - name: $ch/$ex
        id: $id
        if: always()
        timeout-minutes: 10
        run: sh .github/classroom/step.sh $ch/$ex $id
EOF
    done
    printf '      - name: Autograding Reporter\n        if: always()\n        uses: classroom-resources/autograding-grading-reporter@v1\n        env:\n'
    printf '%s\n' "$exercises" | while read -r ch ex; do
        id=$(step_id "$ch" "$ex")
        idu=$(echo "$id" | tr "a-z" "A-Z") # the reporter reads <RUNNER upper-cased>_RESULTS
        # shellcheck disable=SC2016 # ${{ }} is for GitHub, not the shell
        printf '          %sPASSED_RESULTS: "${{ steps.%s.outputs.passed }}"\n' "$idu" "$id"
        printf '          %sFAILED_RESULTS: "${{ steps.%s.outputs.failed }}"\n' "$idu" "$id"
    done
    printf '        with:\n          runners: %s\n' "$(printf '%s\n' "$ids" | sed 's/.*/&Passed,&Failed/' | paste -sd, -)"
} >"$W/workflows/classroom.yml"
echo "  wrote $W (workflows/classroom.yml and classroom/step.sh: copy .github/ into the template repository made from starter/)"

# 4. Autolab.
A=$OUT/autolab
mkdir -p "$A/build"
grading_kit "$A/build"
cat >"$A/build/threadlab/autolab.sh" <<'EOF'
#!/bin/sh
# autolab.sh - run by autograde-Makefile in Autolab's grading folder, which holds the
# handin: handin.tgz / handin.tar.gz / handin.tar (exercise files, folders allowed)
# or one .c file (handin.c: the exercise is EXERCISE in assignment.conf, else the one
# whose header it includes; another name such as ticker.c: by its name). The last
# line of output is Autolab's score line, one problem per exercise of the assignment.
set -u
HERE=$(pwd)
SRC=$HERE/threadlab
ASSIGNMENT="" EXERCISE=""
. "$SRC/assignment.conf"
EXTRA="" extra=""
[ -d "$SRC/hidden-tests" ] && EXTRA=$SRC/hidden-tests extra="-x $SRC/hidden-tests"
export KIT="$SRC" EXTRA
. "$SRC/kit/cmd/common.sh"
sel=$(list_exercises "$ASSIGNMENT" | tr ' ' '/' | paste -sd' ' -)
rm -rf "$HERE/handin-files" "$HERE/s"
mkdir -p "$HERE/handin-files"
for h in "$HERE"/handin.tgz "$HERE"/handin.tar.gz "$HERE"/handin.tar "$HERE"/*.c; do
    [ -f "$h" ] || continue
    case $h in
        *.tgz|*.tar.gz) tar -xzf "$h" -C "$HERE/handin-files" || echo "threadlab: $(basename "$h") is not a gzipped tar" ;;
        *.tar) tar -xf "$h" -C "$HERE/handin-files" || echo "threadlab: $(basename "$h") is not a tar" ;;
        */handin.c)
            ex=${EXERCISE#*/}
            case $sel in *" "*) ;; *) [ -n "$ex" ] || ex=${sel#*/} ;; esac # one exercise: that one
            if [ -z "$ex" ]; then
                for chex in $sel; do
                    grep -q "^#include \"${chex#*/}\.h\"" "$h" && { ex=${chex#*/}; break; }
                done
            fi
            if [ -n "$ex" ]; then cp "$h" "$HERE/handin-files/$ex.c"; else
                echo "threadlab: handin.c includes the header of no exercise of this assignment ($sel); set EXERCISE in assignment.conf"
            fi ;;
        *) cp "$h" "$HERE/handin-files/" ;;
    esac
done
KIT=$SRC EXTRA=$EXTRA sh "$SRC/place.sh" "$HERE/handin-files" "$HERE/s"
cd "$SRC" && sh kit/grade/grade.sh -s "$HERE/s" -e "$sel" -r "$HERE/results.json" -f autolab $extra >"$HERE/grade.out" 2>&1
cat "$HERE/grade.out"
if ! tail -n 1 "$HERE/grade.out" | grep -q '^{"scores": '; then
    # The grader failed: still a score line Autolab can parse, every problem 0.
    echo "threadlab: the grader failed; please tell your instructor."
    printf '{"scores": {%s}, "scoreboard": [0]}\n' "$(for chex in $sel; do printf '"%s": 0\n' "$chex"; done | paste -sd, - | sed 's/,/, /g')"
fi
EOF
(cd "$A/build" && tar -cf ../autograde.tar threadlab)
rm -rf "$A/build"
cat >"$A/autograde-Makefile" <<'EOF'
# Autolab: Tango runs `make` in a folder with this file (as Makefile), autograde.tar
# and the student's handin. The last line of output is {"scores": {...}} with one
# problem per exercise (see problems.txt); README.txt says which handin file to set.
all:
	@tar -xf autograde.tar
	@sh threadlab/autolab.sh
EOF
# shellcheck disable=SC1090
printf '%s\n' "$exercises" | while read -r ch ex; do
    echo "$ch/$ex $( . "$(ex_file "$ch" "$ex")"; echo "${points:-10}")"
done >"$A/problems.txt"
n=$(printf '%s\n' "$exercises" | wc -l)
cat >"$A/README.txt" <<EOF
Autolab assessment for threadlab ($n exercise(s): $SEL).

Autograder: upload autograde-Makefile and autograde.tar; timeout 180 s is enough for
one chapter, raise it (600 s) for more. Problems: one per line of problems.txt, named
exactly as there (e.g. 01-fork-join/sum), with the maximum score given there.

Handin filename (the assessment's "handin filename" setting):
  - handin.tgz (or handin.tar) for an assessment of several exercises: students
    upload a tar of their exercise files (bare files or chapter folders, e.g.
    tar czf handin.tgz chapters/01-fork-join/*.c); each file is found by its name.
  - handin.c for an assessment of one exercise (build the package for it:
    make classroom ASSIGNMENT=03-background-thread/ticker): the file is that exercise
    (or set EXERCISE in threadlab/assignment.conf inside autograde.tar).
Exercises of the assignment that are not in the handin score 0 ("not submitted").
EOF
echo "  wrote $A (autograde-Makefile, autograde.tar, problems.txt, README.txt)"
