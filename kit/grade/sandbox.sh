#!/bin/sh
# sandbox.sh - run one untrusted command under every protection this machine allows.
#
# DESIGN: the grader must survive whatever the submission does, so the command runs
# in a box built from ordinary tools, each one optional: a PID namespace (the whole
# tree dies with it; the submission cannot see or kill the grader), a network
# namespace (no network), an unprivileged user (cannot write the kit), a memory and
# pids cgroup (as root), rlimits through prlimit (CPU, file size, processes, address
# space, no core dumps), stdin from /dev/null, output through a size cap, and a wall
# clock limit that sends TERM first (Check's runner then kills its test's process
# group) and KILL 5 s later. What was in force is printed to the file named by
# TL_PROTECTIONS, so the report can say it.
#
# usage: sandbox.sh OUT RC WALL_S MEM_MB SANITIZER -- COMMAND [ARG...]
#   OUT        file that receives stdout+stderr (first 64 KiB, the rest dropped)
#   RC         file that receives the exit status (124/137: wall limit)
#   WALL_S     wall-clock limit in seconds
#   MEM_MB     memory limit; applied as RLIMIT_AS unless SANITIZER is 1 (TSan and
#              ASan reserve terabytes of address space), then only through a cgroup
# Environment: TL_SANDBOX_USER (default nobody) when root; TL_NO_SANDBOX=1 disables
# the namespaces (the limits stay), for debugging.
set -u
out=$1 rcfile=$2 wall=$3 mem=$4 san=$5
shift 5
[ "$1" = "--" ] && shift

prot=""
note() { prot="$prot${prot:+, }$1"; }

# rlimits, in bytes and counts (prlimit is util-linux's and uses plain units)
lim="--core=0 --fsize=$((64 * 1024 * 1024)) --nofile=256 --cpu=$((wall * 2 + 5))"
if [ "$(id -u)" = 0 ]; then lim="$lim --nproc=512"; else lim="$lim --nproc=$(( $(ps -u "$(id -u)" -o pid= 2>/dev/null | wc -l) + 512 ))"; fi
[ "$san" = 1 ] || lim="$lim --as=$((mem * 1024 * 1024))"
note "rlimits (cpu, file size, processes, no core dumps)"
[ "$san" = 1 ] || note "address space ${mem} MiB"

ns="" drop="" cg=""
if [ "${TL_NO_SANDBOX:-0}" != 1 ]; then
    if [ "$(id -u)" = 0 ]; then
        if unshare --pid --fork --kill-child --mount-proc --net true 2>/dev/null; then
            ns="unshare --pid --fork --kill-child --mount-proc --net"
            note "pid+net namespace"
        fi
        user=${TL_SANDBOX_USER:-nobody}
        group=$(id -gn "$user" 2>/dev/null || echo nogroup)
        if setpriv --reuid="$user" --regid="$group" --clear-groups true 2>/dev/null; then
            drop="setpriv --reuid=$user --regid=$group --clear-groups"
            note "runs as $user"
        fi
        # cgroup v1 (memory, pids) or v2, whichever is mounted and writable
        name="threadlab-$$-$(date +%s%N)"
        if [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/$name" 2>/dev/null; then
            echo $((mem * 1024 * 1024)) > "/sys/fs/cgroup/memory/$name/memory.limit_in_bytes" 2>/dev/null
            cg="/sys/fs/cgroup/memory/$name"
            note "memory cgroup ${mem} MiB"
            if [ -d /sys/fs/cgroup/pids ] && mkdir "/sys/fs/cgroup/pids/$name" 2>/dev/null; then
                echo 512 > "/sys/fs/cgroup/pids/$name/pids.max" 2>/dev/null
                cg="$cg /sys/fs/cgroup/pids/$name"
                note "pids cgroup 512"
            fi
        elif [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir "/sys/fs/cgroup/$name" 2>/dev/null; then
            echo $((mem * 1024 * 1024)) > "/sys/fs/cgroup/$name/memory.max" 2>/dev/null
            echo 512 > "/sys/fs/cgroup/$name/pids.max" 2>/dev/null
            cg="/sys/fs/cgroup/$name"
            note "cgroup v2 memory ${mem} MiB, pids 512"
        fi
    elif unshare -r --pid --fork --kill-child --mount-proc --net true 2>/dev/null; then
        ns="unshare -r --pid --fork --kill-child --mount-proc --net"
        note "user+pid+net namespace"
    fi
fi
[ -n "$ns" ] || note "no namespaces: leftover processes are hunted by a marker"
[ -n "$drop" ] || note "runs as the calling user"

marker="TL_BOX=$$.$(date +%s%N)"
# The inner sh joins the cgroups before it execs the command, so everything the
# command starts is inside them; the outer subshell records the exit status.
(
    TL_CG="$cg" sh -c 'for g in $TL_CG; do echo $$ >"$g/cgroup.procs" 2>/dev/null; done; exec "$@"' \
        sandbox env "$marker" timeout -s TERM -k 5 "$wall" $ns $drop prlimit $lim -- "$@" </dev/null 2>&1
    echo $? >"$rcfile"
) | { head -c 65536; cat >/dev/null; } 3>&- >"$out"

# Anything the box left behind (only possible without a PID namespace) dies now.
if [ -z "$ns" ]; then
    for p in /proc/[0-9]*; do
        grep -qz "^$marker\$" "$p/environ" 2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null
    done
fi
for g in $cg; do
    [ -f "$g/cgroup.procs" ] && for p in $(cat "$g/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    rmdir "$g" 2>/dev/null
done
[ -n "${TL_PROTECTIONS:-}" ] && printf '%s\n' "$prot" >"$TL_PROTECTIONS"
exit 0
