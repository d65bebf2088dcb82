#!/bin/sh
# bench.sh - `make bench`: each pattern's reference solution measured against
# the library a practitioner would pick instead, in the same run.
#
# DESIGN: one small C program per pattern (kit/bench/bench_*.c), each linked
# with the chapter's reference solution and its anchor, all built with the
# same flags (flags.mk's KIT_CFLAGS and -O2). Each runs its sides interleaved
# and appends to results.tsv through kit/bench/harness.c, which owns that
# format; this script only installs the anchors, builds, runs, checks the
# file's form and draws the chart. An anchor that cannot be built is skipped
# with a line naming its package, a pattern whose chapter is not written yet
# with a line naming the chapter: never a silent zero.
#
# usage: bench.sh [--smoke] [--rounds N]
#   --smoke   tiny sizes, a few seconds: every row builds, runs and computes the
#             right answer, and results.tsv is well formed (exit 1 if not). It
#             judges no time, so a slow machine never fails it.
# Environment: TL_BENCH_DIR (default build/bench, or build/bench/smoke with
# --smoke) for the outputs; TL_BENCH_INSTALL=0 never runs apt-get.
set -u
KIT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=kit/cmd/common.sh
. "$KIT/kit/cmd/common.sh"
cd "$KIT" || exit 2

smoke="" rounds=7
while [ $# -gt 0 ]; do
    case $1 in
        --smoke) smoke=--smoke; rounds=3 ;;
        --rounds) [ $# -ge 2 ] || die "--rounds needs a number"; rounds=$2; shift ;;
        *) die "usage: bench.sh [--smoke] [--rounds N]" ;;
    esac
    shift
done
if [ -n "$smoke" ]; then B=${TL_BENCH_DIR:-build/bench/smoke}; else B=${TL_BENCH_DIR:-build/bench}; fi
mkdir -p "$B/bin" || exit 2
rm -f "$B/results.tsv" "$B/targets.tsv" "$B/skipped.txt" "$B"/*.log
CFLAGS="$KIT_CFLAGS -O2 -pthread"
SRC=solutions
broken=0
fail() { broken=1; printf 'FAILED: %s\n' "$*"; }
skip() { printf 'skipped: %s\n' "$*" | tee -a "$B/skipped.txt"; }

cores=$(nproc)
cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)
echo "threadlab bench${smoke:+ (smoke: tiny sizes, nothing judged)}: $rounds interleaved rounds per comparison; $cores cores, ${cpu:-unknown CPU}"
echo "ratio = anchor time / our time (> 1: ours is faster), the median of the per-round ratios; times are medians"
echo

# --- anchors: installed when root (and allowed), else skipped with the package named
may_install() { [ "$(id -u)" = 0 ] && [ "${TL_BENCH_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_install() {
    echo "bench: installing $* ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$B/apt.log" 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$B/apt.log" 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$B/apt.log" 2>&1; } ||
        echo "bench: apt-get could not install $* (see $B/apt.log)"
}
omp_links() {
    printf 'int main(void){int s=0;\n#pragma omp parallel for reduction(+:s)\nfor(int i=0;i<4;i++)s+=i;return s!=6;}\n' \
        >"$B/omp.c" && $CC -fopenmp "$B/omp.c" -o "$B/omp" 2>/dev/null && "$B/omp"
}
ck_builds() { # Concurrency Kit's ck_ring, with the benches' own flags
    # shellcheck disable=SC2086 # the flags are a list
    printf '#include <ck_ring.h>\nint main(void){static ck_ring_buffer_t b[4];struct ck_ring r;void *v=0;ck_ring_init(&r,4);\nreturn !(ck_ring_enqueue_spsc(&r,b,&r)&&ck_ring_dequeue_spsc(&r,b,&v)&&v==&r);}\n' \
        >"$B/ck.c" && $CC $CFLAGS "$B/ck.c" -o "$B/ck" 2>/dev/null && "$B/ck"
}
pkg-config --exists glib-2.0 2>/dev/null || { may_install && apt_install libglib2.0-dev; }
omp_links || { may_install && apt_install libgomp1; }
ck_builds || { may_install && apt_install libck-dev; }
if pkg-config --exists glib-2.0 2>/dev/null; then
    GLIB_CFLAGS=$(pkg-config --cflags glib-2.0) GLIB_LIBS=$(pkg-config --libs glib-2.0)
else
    GLIB_CFLAGS=-DBENCH_NO_GLIB GLIB_LIBS=""
    skip "anchors GThreadPool and GAsyncQueue: GLib is not installed (package libglib2.0-dev; make bench installs it when run as root)"
fi
if omp_links; then OMP=-fopenmp; else
    OMP=-DBENCH_NO_OPENMP
    skip "anchor OpenMP: gcc -fopenmp does not link (package libgomp1; make bench installs it when run as root)"
fi

# TBB: its one C++ file, compiled with g++ and the benches' flags, linked into bench_ws
tbb_builds() {
    # shellcheck disable=SC2086 # the flags are a list
    ${CXX:-g++} $KIT_CXXFLAGS -c kit/bench/bench_ws_tbb.cpp -o "$B/bench_ws_tbb.o" >"$B/tbb.build.log" 2>&1
}
KIT_CXXFLAGS="-O2 -pthread -fno-optimize-sibling-calls"
tbb_builds || { may_install && apt_install libtbb-dev; }
if tbb_builds; then TBB="$B/bench_ws_tbb.o -ltbb -lstdc++"; else
    TBB=-DBENCH_NO_TBB
    skip "anchor TBB task_group: kit/bench/bench_ws_tbb.cpp does not build with g++ (package libtbb-dev; make bench installs it when run as root)"
fi

if ck_builds; then CK=""; else
    CK=-DBENCH_NO_CK
    skip "anchor ck_ring: Concurrency Kit's <ck_ring.h> does not build (package libck-dev; make bench installs it when run as root)"
fi

# --- build: build NAME FLAGS-AND-FILES...; the harness is linked into each
build() {
    name=$1
    shift
    # shellcheck disable=SC2086 # the flags are lists
    if $CC $CFLAGS -Ikit/bench "$@" kit/bench/harness.c -o "$B/bin/$name" -lm >"$B/$name.build.log" 2>&1; then
        return 0
    fi
    fail "$name does not build:"
    sed 's/^/      /' "$B/$name.build.log" | head -n 20
    return 1
}

# --- run: run NAME [ENV...]; it must add a row or say why it skipped
rows() { if [ -f "$B/results.tsv" ]; then echo $(($(wc -l <"$B/results.tsv") - 1)); else echo 0; fi; }
run() {
    name=$1
    before=$(rows)
    # shellcheck disable=SC2086
    timeout 1800 "$B/bin/$name" $smoke --rounds "$rounds" --out "$B" >"$B/$name.log" 2>&1
    rc=$?
    cat "$B/$name.log"
    grep '^skipped:' "$B/$name.log" >>"$B/skipped.txt"
    if [ $rc -ne 0 ]; then fail "$name exited with status $rc"; return; fi
    if [ "$(rows)" -le "$before" ] && ! grep -q '^skipped:' "$B/$name.log"; then
        fail "$name wrote no row and skipped nothing"
    fi
}

# One bench per pattern whose chapter exists: NAME CHAPTER (folder) then its build flags and files.
bench() {
    name=$1 ch=$2
    shift 2
    if [ ! -d "$SRC/$ch" ] || [ ! -d "chapters/$ch" ]; then
        skip "$name: chapter ${ch%%-*} ($ch) not built yet"
        return
    fi
    build "$name" "$@" && run "$name"
}

[ -d "$SRC" ] || { echo "bench: no $SRC/ here (a student starter): the benchmarks measure the reference solutions"; exit 0; }

P1=01-fork-join P3=03-background-thread P4=04-worker-pool P5=05-pipeline P2=02-data-parallelism P6=06-shared-objects P7=07-atomics P8=08-work-stealing
# shellcheck disable=SC2086
{
    bench bench_forkjoin "$P1" -Ichapters/$P1 kit/bench/bench_forkjoin.c $SRC/$P1/sum.c
    bench bench_background "$P3" -Ichapters/$P3 kit/bench/bench_background.c $SRC/$P3/ticker.c
    bench bench_pool "$P4" -Ichapters/$P4 $GLIB_CFLAGS kit/bench/bench_pool.c $SRC/$P4/pool.c $GLIB_LIBS
    bench bench_chan "$P5" -Ichapters/$P5 $GLIB_CFLAGS kit/bench/bench_chan.c $SRC/$P5/chan.c $GLIB_LIBS
    bench bench_pipeline "$P5" -Ichapters/$P5 kit/bench/bench_pipeline.c $SRC/$P5/pipeline.c $SRC/$P5/chan.c
    if [ -f "chapters/$P2/mandel.h" ] && [ -f "$SRC/$P2/rows.c" ]; then
        bench bench_mandel "$P2" -Ichapters/$P2 $OMP kit/bench/bench_mandel.c $SRC/$P2/rows.c
    else
        skip "data parallel: chapter 02 not built yet (no chapters/$P2/mandel.h or $SRC/$P2/rows.c)"
    fi
    bench bench_shared "$P6" kit/bench/bench_shared.c
    bench bench_atomics "$P7" -Ichapters/$P7 $CK kit/bench/bench_atomics.c $SRC/$P7/ring.c
    bench bench_ws "$P8" -Ichapters/$P8 -fno-optimize-sibling-calls $OMP kit/bench/bench_ws.c $SRC/$P8/join.c $SRC/$P8/deque.c $TBB
}

# --- check results.tsv: the harness's header, 7 fields a row, positive numbers
header=$(sed -n 's/^#define BENCH_TSV_HEADER "\(.*\)"$/\1/p' kit/bench/harness.h | sed 's/\\t/	/g')
if [ ! -s "$B/results.tsv" ]; then
    fail "$B/results.tsv is empty"
elif ! awk -F'\t' -v h="$header" '
        NR == 1 { if ($0 != h) { print "bad header: " $0; bad = 1 }; next }
        NF != 7 || $1 == "" || $2 == "" || $4 == "" || !($3 > 0) || !($5 > 0) || !($6 > 0) ||
        ($7 != "-" && !($7 > 0)) { print "bad row " NR ": " $0; bad = 1 }
        END { exit bad }' "$B/results.tsv" >"$B/check.log"; then
    fail "$B/results.tsv is not well formed:"
    sed 's/^/      /' "$B/check.log"
fi

# --- the chart: one bar per comparison, ratio and speedup over serial (Graphviz)
if ! command -v dot >/dev/null 2>&1; then
    skip "the chart: Graphviz (package graphviz) is not installed"
elif [ -s "$B/results.tsv" ]; then
    awk -F'\t' -v title="threadlab bench${smoke:+ (smoke)}: $cores cores, ${cpu:-unknown CPU}, $rounds rounds" '
        function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
        # A bar of x at 40 px per 1.0 (at most w px): the part up to 1.0 and
        # the part past it in two shades (short of 1.0: grey up to it), so
        # where 1.0 falls is visible on every bar. Every cell has a fixed
        # width and a filler ends the row, so Graphviz cannot spread them.
        function cell(wd, col) { return "<TD WIDTH=\"" wd "\" HEIGHT=\"12\" FIXEDSIZE=\"TRUE\"" (col != "" ? " BGCOLOR=\"" col "\"" : "") "></TD>" }
        function bar(x, c1, c2, w,   a, b, f) {
            if (x == "-") return "<TD ALIGN=\"LEFT\">-</TD>"
            a = int(40 * (x < 1 ? x : 1)); if (a < 1) a = 1
            b = int(40 * (x < 1 ? 1 - x : x - 1)); if (a + b > w) b = w - a
            f = w - a - b
            return "<TD ALIGN=\"LEFT\"><TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"0\"><TR>" cell(a, c1) \
                   (b >= 1 ? cell(b, x < 1 ? "#dddddd" : c2) : "") \
                   "<TD WIDTH=\"52\" HEIGHT=\"14\" FIXEDSIZE=\"TRUE\" ALIGN=\"RIGHT\">" sprintf("%.2f", x) "x" (a + b >= w ? "+" : "") "</TD>" \
                   (f >= 1 ? cell(f, "") : "") "</TR></TABLE></TD>"
        }
        FNR == 1 { next }
        FILENAME ~ /targets/ { target[FNR] = $4; verdict[FNR] = $5; next }
        {
            v = verdict[FNR]; c1 = v == "met" ? "#5a9e5a" : v == "SHORT" ? "#c8553d" : "#6f8fb5"
            c2 = v == "met" ? "#2f6f2f" : v == "SHORT" ? "#8f2f1f" : "#3f5f85"
            row = row "<TR><TD ALIGN=\"LEFT\">" esc($1 ": " $2) "</TD><TD ALIGN=\"LEFT\">" esc($4) "</TD>" \
                  bar($6, c1, c2, 440) bar($7, c1, c2, 100) "<TD ALIGN=\"LEFT\">" esc(target[FNR] ": " v) "</TD></TR>\n"
        }
        END {
            print "digraph bench {"
            print "  graph [fontname=\"Helvetica\" labelloc=t label=\"" title "\"];"
            print "  node [shape=plaintext fontname=\"Helvetica\" fontsize=11];"
            print "  t [label=<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"3\">"
            print "<TR><TD ALIGN=\"LEFT\"><B>pattern: workload</B></TD><TD ALIGN=\"LEFT\"><B>anchor</B></TD>" \
                  "<TD ALIGN=\"LEFT\"><B>ratio: anchor time / ours (&gt; 1: ours faster)</B></TD>" \
                  "<TD ALIGN=\"LEFT\"><B>ours vs serial</B></TD><TD ALIGN=\"LEFT\"><B>target</B></TD></TR>"
            printf "%s", row
            print "<TR><TD COLSPAN=\"5\" ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">bars: light up to 1.0, dark past it, grey the gap" \
                  " to 1.0 when short; green: target met, red: short of it, blue: not judged. Medians of per-round" \
                  " ratios, interleaved rounds.</FONT></TD></TR>"
            print "</TABLE>>];"
            print "}"
        }' "$B/targets.tsv" "$B/results.tsv" >"$B/ratios.dot"
    if ! dot -Tsvg "$B/ratios.dot" -o "$B/ratios.svg" 2>"$B/dot.log"; then
        fail "the chart does not draw: $(head -n 3 "$B/dot.log")"
    fi
fi

echo
n=$(rows)
if [ -z "$smoke" ]; then
    awk -F'\t' -v n="$n" -v b="$B" 'FNR > 1 && $5 == "met" { m++ } FNR > 1 && ($5 == "met" || $5 == "SHORT") { t++ }
        END { printf "%d of %d targets met (SHORT: we fall short); %d comparisons in %s/results.tsv, chart %s/ratios.svg\n", m, t, n, b, b }' \
        "$B/targets.tsv"
fi
if [ $broken -ne 0 ]; then
    echo "bench${smoke:+ smoke}: something is broken (see FAILED above)"
    exit 1
fi
[ -n "$smoke" ] && echo "bench smoke: $n comparisons ran with right answers; $B/results.tsv is well formed"
exit 0
