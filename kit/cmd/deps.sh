#!/bin/sh
# deps.sh - make sure the tools the kit needs are here; install them when we may.
#
# DESIGN: a learner types `make` on a fresh Debian or Ubuntu machine and it
# works. Missing packages are installed with apt-get when running as root or
# with password-less sudo; otherwise we stop and print the exact command.
#
# usage: deps.sh [graphviz]    (graphviz: also require Graphviz's dot/neato)
set -u
want_graphviz=${1:-}
missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }
command -v gcc >/dev/null 2>&1 || add gcc
command -v make >/dev/null 2>&1 || add make
command -v pkg-config >/dev/null 2>&1 || add pkg-config
pkg-config --exists check 2>/dev/null || add check
pkg-config --exists jansson 2>/dev/null || add libjansson-dev
command -v jq >/dev/null 2>&1 || add jq
command -v gdb >/dev/null 2>&1 || add gdb
command -v prlimit >/dev/null 2>&1 || add util-linux
command -v addr2line >/dev/null 2>&1 || add binutils
[ "$want_graphviz" = graphviz ] && { command -v neato >/dev/null 2>&1 || add graphviz; }
# The sanitizer runtimes come with gcc on Debian; test that they link.
if command -v gcc >/dev/null 2>&1; then
    t=$(mktemp -d)
    echo 'int main(void){return 0;}' >"$t/a.c"
    gcc -fsanitize=thread "$t/a.c" -o "$t/a" 2>/dev/null || add libtsan2
    gcc -fsanitize=address,undefined "$t/a.c" -o "$t/a" 2>/dev/null || add libasan8
    rm -rf "$t"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "threadlab needs:$missing"
    echo "Install them with:"
    echo "    sudo apt-get install -y$missing"
    exit 1
fi
echo "threadlab: installing$missing ..."
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$sudo apt-get install -y -q $missing >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q $missing; } ||
    { echo "threadlab: apt-get could not install:$missing"; exit 1; }
exit 0
