#!/bin/sh
# classroom.sh - package the kit for a class (make classroom [EXTRA_TESTS=DIR]).
#
# DESIGN: grading a class runs on the fleets schools already use; the kit only
# provides the packages. Everything is produced from this checkout:
#   OUT/starter/            what students get: chapters, book, kit, visible tests;
#                           no solutions, no known-buggy variants
#   OUT/gradescope/autograder.zip   setup.sh + run_autograder + the kit (+ hidden tests)
#   OUT/github/.github/workflows/classroom.yml   one step per exercise, partial credit
#                           through GitHub Classroom's grading reporter
#   OUT/autolab/            autograde-Makefile + autograde.tar; problems.txt names the
#                           lab's problems, one per exercise
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
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# What a grading machine must install (kit/cmd/deps.sh checks the same tools).
PACKAGES="gcc make pkg-config check libjansson-dev jq graphviz util-linux binutils gdb"

# The kit's files as git knows them (or all files outside build outputs).
kit_files() {
    if git rev-parse --git-dir >/dev/null 2>&1; then git ls-files; else
        find . -type f ! -path './build/*' ! -path './results/*' ! -path './classroom/*' ! -path './.git/*' | sed 's|^\./||'
    fi
}

copy_tree() { # DEST FILTER-REGEX-TO-DROP
    kit_files | grep -Ev "$2" | while IFS= read -r f; do
        mkdir -p "$1/$(dirname "$f")"
        cp -p "$f" "$1/$f"
    done
}

# 1. Student starter.
copy_tree "$OUT/starter" '^(solutions/|tests/[^/]+/bugs/|tests/kit/hostile/|\.ci/)'
echo "  wrote $OUT/starter (no solutions, no known-buggy variants)"

# 2. Gradescope.
G=$OUT/gradescope/build
copy_tree "$G/threadlab" '^(solutions/|tests/[^/]+/bugs/|tests/kit/hostile/|\.ci/|diagrams/)'
[ -n "$EXTRA" ] && { mkdir -p "$G/threadlab/hidden-tests"; cp -r "$EXTRA"/. "$G/threadlab/hidden-tests/"; }
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
set -u
SRC=/autograder/source/threadlab
SUB=/autograder/submission
RES=/autograder/results/results.json
mkdir -p /autograder/results /tmp/threadlab-sub
# Students may upload chapter folders or bare files; place each exercise file by name.
for f in $(find "$SUB" -name '*.c' -type f); do
    ex=$(basename "$f" .c)
    for e in "$SRC"/tests/*/"$ex".ex; do
        [ -f "$e" ] || continue
        ch=$(basename "$(dirname "$e")")
        mkdir -p "/tmp/threadlab-sub/$ch"
        cp "$f" "/tmp/threadlab-sub/$ch/$ex.c"
    done
done
extra=""
[ -d "$SRC/hidden-tests" ] && extra="-x $SRC/hidden-tests"
# Grade the chapters the student submitted files for (set CHAPTERS to fix the list).
CHAPTERS=${CHAPTERS:-$(ls /tmp/threadlab-sub 2>/dev/null | tr '\n' ' ')}
[ -n "$CHAPTERS" ] || CHAPTERS="$(ls "$SRC/tests" | grep '^[0-9]' | tr '\n' ' ')"
cd "$SRC" && sh kit/grade/grade.sh -s /tmp/threadlab-sub -e "$CHAPTERS" -r "$RES" $extra
if [ ! -s "$RES" ]; then
    printf '{"score": 0, "output": "The grader failed before producing results; please tell your instructor.", "tests": []}\n' >"$RES"
fi
exit 0
EOF
chmod +x "$G/setup.sh" "$G/run_autograder"
if (cd "$G" && rm -f ../autograder.zip && zip -qr ../autograder.zip setup.sh run_autograder threadlab); then
    rm -rf "$G"
else
    echo "  (zip not installed: the autograder is in $G; apt-get install zip for the .zip)"
fi
cat >"$OUT/gradescope/README.txt" <<'EOF'
Upload autograder.zip as a Gradescope "Autograder" assignment (Ubuntu base image).
Settings: at least 2 CPUs and 2 GB of memory, timeout 10 minutes (the defaults of
0.5 CPU and 768 MB are too small for a threads lab). Students upload their exercise
files (e.g. sum.c, ticker.c); folders are accepted too. Each exercise is graded
separately; the leaderboard shows the total score.
EOF
[ -f "$OUT/gradescope/autograder.zip" ] && echo "  wrote $OUT/gradescope/autograder.zip"

# 3. GitHub Classroom: one step per exercise; each writes its result JSON for the reporter.
W=$OUT/github/.github/workflows
mkdir -p "$W"
exercises=$(list_exercises "")
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
        id=$(echo "${ch}-${ex}" | tr -c 'a-zA-Z0-9\n' '-' | sed 's/^\([0-9]\)/ex\1/')
        cat <<EOF
      - name: $ch/$ex
        id: $id
        timeout-minutes: 5
        run: |
          make grade EX=$ch/$ex FORMATS=classroom RESULTS=results/$id.json || true
          echo "result=\$(base64 -w0 results/classroom-$ch-$ex.json)" >> "\$GITHUB_OUTPUT"
EOF
    done
    printf '      - name: Autograding Reporter\n        uses: classroom-resources/autograding-grading-reporter@v1\n        env:\n'
    printf '%s\n' "$exercises" | while read -r ch ex; do
        id=$(echo "${ch}-${ex}" | tr -c 'a-zA-Z0-9\n' '-' | sed 's/^\([0-9]\)/ex\1/')
        idu=$(echo "$id" | tr 'a-z' 'A-Z') # the reporter reads <ID upper-cased>_RESULTS
        printf '          %s_RESULTS: "${{ steps.%s.outputs.result }}"\n' "$idu" "$id"
    done
    printf '        with:\n          runners: %s\n' "$(printf '%s\n' "$exercises" | while read -r ch ex; do echo "${ch}-${ex}" | tr -c 'a-zA-Z0-9\n' '-' | sed 's/^\([0-9]\)/ex\1/'; done | paste -sd, -)"
} >"$W/classroom.yml"
echo "  wrote $W/classroom.yml (copy .github/ into the template repository made from starter/)"

# 4. Autolab.
A=$OUT/autolab
mkdir -p "$A/build"
copy_tree "$A/build/threadlab" '^(solutions/|tests/[^/]+/bugs/|tests/kit/hostile/|\.ci/|diagrams/)'
[ -n "$EXTRA" ] && { mkdir -p "$A/build/threadlab/hidden-tests"; cp -r "$EXTRA"/. "$A/build/threadlab/hidden-tests/"; }
(cd "$A/build" && tar -cf ../autograde.tar threadlab)
rm -rf "$A/build"
cat >"$A/autograde-Makefile" <<'EOF'
# Autolab: the handin is a tar of exercise files (or one .c file). The last line of
# output is {"scores": {...}} with one problem per exercise (see problems.txt).
all:
	tar -xf autograde.tar
	mkdir -p sub && (tar -xf handin.tar -C sub 2>/dev/null || cp handin.c sub/ 2>/dev/null || true)
	for f in $$(find sub -name '*.c'); do ex=$$(basename $$f .c); \
	  for e in threadlab/tests/*/$$ex.ex; do [ -f $$e ] || continue; ch=$$(basename $$(dirname $$e)); \
	    mkdir -p s/$$ch && cp $$f s/$$ch/$$ex.c; done; done
	cd threadlab && sh kit/grade/grade.sh -s ../s -r ../results.json -f autolab $$( [ -d hidden-tests ] && echo -x hidden-tests )
EOF
# shellcheck disable=SC1090
printf '%s\n' "$exercises" | while read -r ch ex; do
    echo "$ch/$ex $( . "$(ex_file "$ch" "$ex")"; echo "${points:-10}")"
done >"$A/problems.txt"
echo "  wrote $A (autograde-Makefile, autograde.tar, problems.txt); Autolab's default 180 s timeout is enough for one chapter, raise it for the whole kit"
