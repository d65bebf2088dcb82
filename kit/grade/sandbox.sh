#!/bin/sh
# sandbox.sh - run one untrusted command under every protection this machine allows.
#
# DESIGN: the grader must survive whatever the submission does, so the command runs
# in a box built from ordinary tools, each one optional: a PID namespace (the whole
# tree dies with it; the submission cannot see or kill the grader), a network
# namespace (no network), a user of the run's own (cannot write the kit, and no
# other run shares its process count), a memory and pids cgroup (as root), rlimits
# through prlimit (CPU, file size, processes, address space, no core dumps), stdin
# from /dev/null, output through a size cap, and a wall clock limit that sends TERM
# first (Check's runner then kills its test's process group) and KILL 5 s later.
# What was in force is printed to the file named by TL_PROTECTIONS, so the report
# can say it.
#
# Every limit belongs to this one run, never to a user account across the machine,
# so that four graders side by side cannot starve each other: as root the run gets
# a uid nobody else has (TL_UID_BASE + this script's pid, unique while it lives; no
# passwd entry needed) and a pids cgroup; as an ordinary user a user namespace,
# where RLIMIT_NPROC counts the namespace's own processes (ucounts are per user
# namespace since Linux 5.14).
#
# usage: sandbox.sh OUT RC WALL_S MEM_MB SANITIZER -- COMMAND [ARG...]
#   OUT        file that receives stdout+stderr (first 64 KiB, the rest dropped)
#   RC         file that receives the exit status (124/137: wall limit)
#   WALL_S     wall-clock limit in seconds
#   MEM_MB     memory limit; applied as RLIMIT_AS unless SANITIZER is 1 (TSan and
#              ASan reserve terabytes of address space), then only through a cgroup
#   SANITIZER  1 for a sanitizer build, else 0
# The command's current folder must be writable by any user (the grader makes it
# mode 1777); descriptors it inherits (the grader's channel, fd 3) stay usable.
# Environment: TL_SANDBOX_USER (a user name or uid; default a uid of the run's own)
# and TL_UID_BASE (default 1600000000) when root; TL_NO_SANDBOX=1 disables the
# namespaces (the limits stay), for debugging.
set -u
out=$1 rcfile=$2 wall=$3 mem=$4 san=$5
shift 5
[ "$1" = "--" ] && shift

prot=""
note() { prot="$prot${prot:+, }$1"; }

NPROC=512 # processes and threads of one run
# rlimits, in bytes and counts (prlimit is util-linux's and uses plain units)
lim="--core=0 --fsize=$((64 * 1024 * 1024)) --nofile=256 --cpu=$((wall * 2 + 5))"
[ "$san" = 1 ] || lim="$lim --as=$((mem * 1024 * 1024))"
note "rlimits (cpu, file size, processes, no core dumps)"
[ "$san" = 1 ] || note "address space ${mem} MiB"

# The cgroups of this run (v1 memory and pids, or v2), as root; sets cg.
make_cgroups() {
    name="threadlab-$$-$(date +%s%N)"
    if [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/$name" 2>/dev/null; then
        echo $((mem * 1024 * 1024)) >"/sys/fs/cgroup/memory/$name/memory.limit_in_bytes" 2>/dev/null
        cg="/sys/fs/cgroup/memory/$name"
        note "memory cgroup ${mem} MiB"
    fi
    if [ -d /sys/fs/cgroup/pids ] && mkdir "/sys/fs/cgroup/pids/$name" 2>/dev/null; then
        echo "$NPROC" >"/sys/fs/cgroup/pids/$name/pids.max" 2>/dev/null
        cg="$cg${cg:+ }/sys/fs/cgroup/pids/$name"
        note "pids cgroup $NPROC"
    fi
    if [ -z "$cg" ] && [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir "/sys/fs/cgroup/$name" 2>/dev/null; then
        echo $((mem * 1024 * 1024)) >"/sys/fs/cgroup/$name/memory.max" 2>/dev/null
        echo "$NPROC" >"/sys/fs/cgroup/$name/pids.max" 2>/dev/null
        cg="/sys/fs/cgroup/$name"
        note "cgroup v2 memory ${mem} MiB, pids $NPROC"
    fi
}

ns="" drop="" cg=""
if [ "${TL_NO_SANDBOX:-0}" != 1 ]; then
    if [ "$(id -u)" = 0 ]; then
        if unshare --pid --fork --kill-child --mount-proc --net true 2>/dev/null; then
            ns="unshare --pid --fork --kill-child --mount-proc --net"
            note "pid+net namespace"
        fi
        uid=${TL_SANDBOX_USER:-$(( ${TL_UID_BASE:-1600000000} + $$ ))}
        gid=$(id -g "$uid" 2>/dev/null || echo "$uid")
        if setpriv --reuid="$uid" --regid="$gid" --clear-groups true 2>/dev/null; then
            drop="setpriv --reuid=$uid --regid=$gid --clear-groups"
            note "runs as uid $uid (its own)"
        fi
        lim="$lim --nproc=$NPROC" # counted for this run's uid alone
        make_cgroups
    elif unshare -r --pid --fork --kill-child --mount-proc --net true 2>/dev/null; then
        ns="unshare -r --pid --fork --kill-child --mount-proc --net"
        lim="$lim --nproc=$NPROC" # counted in this run's user namespace alone
        note "user+pid+net namespace"
    fi
fi
if [ -z "$ns" ] && [ -z "$drop" ]; then
    # No namespace of our own: RLIMIT_NPROC counts every process of this user, so
    # leave room above what the user runs now (other graders may still take it).
    lim="$lim --nproc=$(( $(ps -u "$(id -u)" -o pid= 2>/dev/null | wc -l) + NPROC ))"
fi
[ -n "$ns" ] || note "no namespaces: leftover processes are hunted by a marker"
[ -n "$drop" ] || note "runs as the calling user"

marker="TL_BOX=$$.$(date +%s%N)"
# The inner sh joins the cgroups before it execs the command, so everything the
# command starts is inside them; the outer subshell records the exit status.
# $ns, $drop and $lim are word lists on purpose.
# shellcheck disable=SC2086
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
# A cgroup can only be removed once its last process has exited: wait up to 5 s.
for g in $cg; do
    i=0
    while [ -d "$g" ] && ! rmdir "$g" 2>/dev/null && [ "$i" -lt 50 ]; do
        while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$g/cgroup.procs" 2>/dev/null
        sleep 0.1
        i=$((i + 1))
    done
done
[ -n "${TL_PROTECTIONS:-}" ] && printf '%s\n' "$prot" >"$TL_PROTECTIONS"
exit 0
