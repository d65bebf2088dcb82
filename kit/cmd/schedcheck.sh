#!/bin/sh
# schedcheck.sh - how strong, how exact and how fair the sched pass is, measured
# on the kit's own known-buggy variants and reference solutions.
#
# DESIGN: the sched pass promises three things (book B.1 "Exact replay"): a
# failing seed fails again, the same way, every time; it finds the bugs whose
# class is about schedules (hang, lost-wakeup, deadlock, wrong-result) in a few
# seeds, at least as often per run as the chaos pass; and it never fails a
# correct solution. Each is measured here by running the test binaries the
# grader builds (grade.sh -P build -k), with the pass's own environment, seed
# after seed: no timing decides anything, only exit statuses and the schedule's
# trail (a hash of every decision, printed under TL_SCHED_STATS=1).
#
# usage: schedcheck.sh [-n SEEDS] [-r REPLAYS] [-e CH] OUT
#   -n SEEDS    seeds tried per variant, for each pass (default 4)
#   -r REPLAYS  reruns of the first failing seed (default 20)
#   -e CH       only this chapter (NN or its name)
#   -s          soft: only a replay that differs makes the exit status 1
#   -w LIST     the variants from LIST (lines: id ch ex expect file workfolder, as
#               grade.sh -k left them built), instead of building each here
#   -C          no chaos runs (the chaos column shows -)
#   -f SEEDS    instead: fairness, the reference solutions under seeds 1..SEEDS
# Writes OUT/strength.tsv and prints the table; exits 1 when a replay differs,
# when the sched pass finds a variant less often than chaos (unless it may be
# a data race: the pass's stated limit), or when a variant of a schedule class
# is never found by either.
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 1

# One run of every test binary of work folder $1 under pass $2 (sched|chaos)
# with seed $3; prints "fail" or "pass", then the schedule's trails and the
# tests' verdict lines (pids and addresses taken out), for comparing replays.
run_once() {
    w=$1 pass=$2 seed=$3 st=pass
    for bin in "$w"/obj/func/test*; do
        case $bin in *.o) continue ;; esac
        [ -x "$bin" ] || continue
        case $pass in
            sched) e="TL_SCHED_SEED=$seed CK_TIMEOUT_MULTIPLIER=8" ;;
            *) e="CHAOS_SEED=$seed CK_TIMEOUT_MULTIPLIER=2" ;;
        esac
        # shellcheck disable=SC2086 # $e: the pass's variables, split on purpose
        if env -i PATH="$PATH" LANG=C TL_INPUT_SEED="${INPUT_SEED:-1}" TL_TIMEOUT=4 CK_DEFAULT_TIMEOUT=4 \
            TL_SCHED_STATS=1 $e "$bin" >"$w/run.log" 2>&1; then :; else st=fail; fi
        sed -e 's/pid [0-9]*//' -e 's/0x[0-9a-f]*/ADDR/g' -e 's/^HANG [^ ]* T \([0-9]*\) \([a-z]*\) .*/T \1 \2/' \
            -e '/^HANG .* M /d' "$w/run.log" | grep -a -E '^(threadlab: schedule|T [0-9]|.*: (Assertion|Early exit|Received)|.*passed)' 
    done >"$w/trail"
    echo "$st"
}

# Builds the test binaries of submission $1 for selection $2 (grade.sh -P
# build -k, in folder $3) and prints the work folder grade.sh kept them in.
build_kept() {
    TL_QUIET=1 TMPDIR=$3 sh kit/grade/grade.sh -s "$1" ${2:+-e "$2"} -P build -k -r "$3/build.json" 2>&1 |
        sed -n 's/^work folder kept: //p'
}

# Measures one variant (in work folder $6, already built, when given); writes
# OUT/v/<id>.row.
measure() {
    id=$1 ch=$2 ex=$3 expect=$4 f=$5 w=${6:-}
    d=$OUT/v/$id
    rm -rf "$d"
    mkdir -p "$d/sub/$ch"
    if [ -z "$w" ]; then
        cp solutions/"$ch"/*.c "$d/sub/$ch/"
        cp "$f" "$d/sub/$ch/$ex.c"
        w=$(build_kept "$d/sub" "$ch/$ex" "$d")/$ch/$ex
    fi
    first=- nsched=0 nchaos=0 ms=-
    [ "$CHAOS" = 1 ] || nchaos=-
    s=1
    while [ "$s" -le "$SEEDS" ]; do
        t0=$(now_ms)
        if [ "$(run_once "$w" sched "$s")" = fail ]; then
            nsched=$((nsched + 1))
            if [ "$first" = - ]; then first=$s ms=$(( $(now_ms) - t0 )); cp "$w/trail" "$d/trail.first"; fi
        fi
        if [ "$CHAOS" = 1 ] && [ "$(run_once "$w" chaos "$s")" = fail ]; then nchaos=$((nchaos + 1)); fi
        s=$((s + 1))
    done
    same=-
    if [ "$first" != - ]; then
        same=0 k=0
        while [ "$k" -lt "$REPLAYS" ]; do
            [ "$(run_once "$w" sched "$first")" = fail ] && cmp -s "$w/trail" "$d/trail.first" && same=$((same + 1))
            k=$((k + 1))
        done
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$expect" "$first" "$nsched" "$nchaos" "$same" "$REPLAYS" "$ms" >"$d.row"
    rm -rf "$w" "$d/sub"
}

# A child of the xargs below: measure one variant.
if [ "${1:-}" = --one ]; then
    shift
    measure "$@"
    exit 0
fi

USAGE="usage: schedcheck.sh [-n SEEDS] [-r REPLAYS] [-e CH] [-s] [-w LIST] [-C] OUT | -f SEEDS [-e CH] OUT"
SEEDS=4 REPLAYS=20 ONLY="" FAIR=0 SOFT=0 LIST="" CHAOS=1
while getopts n:r:e:f:sw:C o; do
    case $o in
        w) LIST=$OPTARG ;;
        C) CHAOS=0 ;;
        n) SEEDS=$OPTARG ;;
        r) REPLAYS=$OPTARG ;;
        e) ONLY=$OPTARG ;;
        f) FAIR=$OPTARG ;;
        s) SOFT=1 ;;
        *) die "$USAGE" ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || die "$USAGE"
OUT=$1
mkdir -p "$OUT/v"
OUT=$(cd "$OUT" && pwd)

# ---------------------------------------------------------------- fairness
# -f SEEDS: every reference solution's tests under seeds 1..SEEDS (each with
# its own input seed too), built once; a failure is a test that fails correct
# code, so it always counts.
if [ "$FAIR" -gt 0 ]; then
    w=$(build_kept solutions "$ONLY" "$OUT")
    [ -d "$w" ] || die "schedcheck: the solutions did not build (grade.sh -P build)"
    : >"$OUT/fair.fail"
    runs=0
    for e in "$w"/[0-9][0-9]-*/*/; do
        ch=$(basename "$(dirname "$e")") ex=$(basename "$e")
        # shellcheck disable=SC1090
        p=$( . "$(ex_file "$ch" "$ex")"; echo "${passes:-}")
        case " $p " in *" sched "*) ;; *) continue ;; esac
        s=1
        while [ "$s" -le "$FAIR" ]; do
            runs=$((runs + 1))
            if [ "$(INPUT_SEED=$s run_once "${e%/}" sched "$s")" = fail ]; then
                echo "$ch/$ex SCHED_SEED=$s TL_INPUT_SEED=$s" >>"$OUT/fair.fail"
                cp "${e%/}/run.log" "$OUT/fair.$ch.$ex.$s.log"
            fi
            s=$((s + 1))
        done
    done
    rm -rf "$w"
    nf=$(wc -l <"$OUT/fair.fail")
    echo "sched pass on the reference solutions: $nf failures in $runs runs (seeds 1 to $FAIR, each exercise)"
    sed 's/^/  failed: /' "$OUT/fair.fail"
    [ "$nf" -eq 0 ]
    exit
fi

# ---------------------------------------------------------------- variants
: >"$OUT/variants.list"
if [ -n "$LIST" ]; then cat "$LIST"; else known_bad "$ONLY"; fi | while read -r id ch ex expect f work; do
    case "|$expect|" in *"|hang|"* | *"|lost-wakeup|"* | *"|deadlock|"* | *"|wrong-result|"*) ;; *) continue ;; esac
    case "$f" in */hostile/*) continue ;; esac
    # shellcheck disable=SC1090
    p=$( . "$(ex_file "$ch" "$ex")"; echo "${passes:-}")
    case " $p " in *" sched "*) ;; *) continue ;; esac
    echo "$id $ch $ex $expect $f${work:+ $work}" >>"$OUT/variants.list"
done

export KIT OUT SEEDS REPLAYS CHAOS
JOBS=1 xargs -P "$(nproc)" -L 1 sh "$KIT/kit/cmd/schedcheck.sh" --one <"$OUT/variants.list"

# ---------------------------------------------------------------- the table
printf 'variant\tclass\tsched_first_seed\tsched_found\tchaos_found\treplays_same\treplays\tms_to_verdict\n' >"$OUT/strength.tsv"
cat "$OUT"/v/*.row >>"$OUT/strength.tsv"
awk -F '\t' -v n="$SEEDS" '
    NR == 1 { next }
    {
        found = $3 == "-" ? "not in " n : "seed " $3
        printf "  %-52s %-13s %-11s %d/%d   %s/%d   %s   %s\n", $1, $2, found, $4, n, $5, n,
               $6 == "-" ? "-" : $6 "/" $7, $8 == "-" ? "-" : $8 " ms"
    }' "$OUT/strength.tsv" >"$OUT/table"
bad=0
{
    echo "  variant                                              class         sched finds  sched  chaos  replays  first verdict"
    cat "$OUT/table"
} >"$OUT/table.txt"
# A variant that may also be called a data race can do its harm between two
# pthread calls, where this scheduler never switches (the pass's stated limit:
# ThreadSanitizer's job): missing it is listed, not counted as a problem.
awk -F '\t' 'NR > 1 && $4 < $5 && $2 ~ /data-race/ { print "  a race between pthread calls (TSan and chaos find it): " $1 > "/dev/stderr"; next }
              NR > 1 && $4 < $5 { print "  weaker than chaos: " $1 }
              NR > 1 && $4 == 0 && $5 == 0 { print "  never found: " $1 }
              NR > 1 && $4 == 0 && $5 == "-" && $2 !~ /data-race/ { print "  not found by the sched pass: " $1 }
              NR > 1 && $6 != "-" && $6 != $7 { print "  replay differs: " $1 " (" $6 "/" $7 ")" }' \
    "$OUT/strength.tsv" >"$OUT/problems" 2>"$OUT/limits"
cat "$OUT/table.txt" "$OUT/limits"
# -s: the strength rows depend on seeds (chaos on timing too) and are only
# reported; a replay that differs always counts.
if [ -s "$OUT/problems" ]; then
    cat "$OUT/problems"
    if [ "$SOFT" = 0 ] || grep -q 'replay differs' "$OUT/problems"; then bad=1; fi
fi
n=$(($(wc -l <"$OUT/strength.tsv") - 1))
found=$(awk -F '\t' 'NR > 1 && $4 > 0' "$OUT/strength.tsv" | wc -l)
echo "sched pass: $found of $n schedule-class variants found within $SEEDS seeds; every failing seed replayed $REPLAYS times"
exit $bad
