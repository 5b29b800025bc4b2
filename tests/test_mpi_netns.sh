#!/usr/bin/env bash
# Several hosts on one machine: three MPI ranks, each in a network
# namespace of its own, joined by veth pairs to a bridge in a fourth
# namespace, fit a 10^6-row problem over TCP (tests/mpi/netns_fit.c). Each
# rank checks that its fit is bitwise the single-process fit and that its
# interface carried at least the bytes its group sent and received; this
# script checks the same from outside, on the bridge's ports.
#
#   test_mpi_netns.sh NETNS_FIT [ROWS]
#
# Open MPI's launcher talks to its ranks through PMIx over TCP on the
# loopback device, which another namespace cannot reach: mpirun therefore
# runs in the bridge's namespace with an address on the bridge, and PMIx
# is told to accept connections there (PMIX_MCA_ptl_tcp_*). The ranks'
# own messages go over the TCP BTL on the test subnet only.
#
# Needs root with CAP_NET_ADMIN, iproute2 and mpirun; without them it
# exits 77 saying which is missing. Every namespace and link it made is
# removed on exit, whatever happens.
set -u
prog=${1:?usage: test_mpi_netns.sh NETNS_FIT [ROWS]}
rows=${2:-1000000}
nranks=3
skip() { echo "SKIP: $*"; exit 77; }

command -v ip >/dev/null || skip "no ip command (Debian: iproute2)"
command -v mpirun >/dev/null || skip "no mpirun (Debian: openmpi-bin)"
[ "$(id -u)" = 0 ] || skip "not root: network namespaces need CAP_NET_ADMIN"

# A run killed outright (ctest's timeout) cannot clean up: remove the
# namespaces of earlier runs whose script is gone (only this test makes
# names of the form nlsqt-PID-...).
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^nlsqt-[0-9]*-'); do
    pid=${ns#nlsqt-}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
done

# Names made for this run only: the pid keeps two runs apart. Interface
# names stay under 16 characters.
tag=nlsqt-$$
hub=$tag-hub
subnet=10.231.$(($$ % 200 + 20))
made_ns=()
cleanup() {
    local ns
    for ns in "${made_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# One probe first: a container without CAP_NET_ADMIN fails here.
if ! err=$(ip netns add "$hub" 2>&1); then
    skip "cannot make a network namespace ($err): CAP_NET_ADMIN missing?"
fi
made_ns+=("$hub")
if ! err=$(ip -n "$hub" link add br0 type bridge 2>&1); then
    skip "cannot make a bridge in a namespace ($err)"
fi
ip -n "$hub" addr add "$subnet.254/24" dev br0
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up

for r in $(seq 0 $((nranks - 1))); do
    ns=$tag-r$r
    ip netns add "$ns" || { echo "FAIL: ip netns add $ns"; exit 1; }
    made_ns+=("$ns")
    ip link add "nt$$r$r" type veth peer name "nh$$r$r" || { echo "FAIL: veth pair for rank $r"; exit 1; }
    # each end moves into its namespace (deleting a namespace deletes them)
    ip link set "nt$$r$r" netns "$ns"
    ip link set "nh$$r$r" netns "$hub"
    ip -n "$hub" link set "nh$$r$r" master br0 up
    ip -n "$ns" link set "nt$$r$r" name eth0
    ip -n "$ns" addr add "$subnet.$((r + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

# The bridge's port towards rank r: what it sends is what rank r receives.
port_counter() { ip netns exec "$hub" cat "/sys/class/net/nh$$r$1/statistics/$2"; }
declare -A before
for r in $(seq 0 $((nranks - 1))); do
    before[$r.rx]=$(port_counter "$r" rx_bytes)
    before[$r.tx]=$(port_counter "$r" tx_bytes)
done

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PMIX_MCA_ptl_tcp_remote_connections=1 PMIX_MCA_ptl_tcp_if_include=$subnet.0/24
export NLSQ_THREADS=1 NLSQ_MPI_TIMEOUT=40
# Under ASan the leak check would report Open MPI's own allocations (its
# components are unloaded before the check runs); our code's leaks are
# checked by test_group, the same paths in one process.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
apps=()
for r in $(seq 0 $((nranks - 1))); do
    [ "$r" -gt 0 ] && apps+=(:)
    apps+=(-n 1 ip netns exec "$tag-r$r" "$prog" "$rows" eth0)
done
out=$(timeout 55 ip netns exec "$hub" mpirun --oversubscribe --mca pml ob1 --mca btl tcp,self \
    --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" "${apps[@]}" 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
    if echo "$out" | grep -q "Unreachable\|PMIX_ERR_UNREACH\|ptl_tcp"; then
        skip "the MPI launcher cannot reach ranks in another network namespace here (PMIx over TCP): rc $rc"
    fi
    echo "FAIL: mpirun exited $rc"
    exit 1
fi

fails=0
lines=$(echo "$out" | grep -c "^rank [0-9]* of $nranks: SAME NEAR CROSSED")
if [ "$lines" -ne "$nranks" ]; then
    echo "FAIL: $lines of $nranks ranks report a bitwise-equal fit whose traffic crossed their interface"
    fails=1
fi
# From outside: each bridge port grew by at least the bytes its rank's
# group sent (port rx) and received (port tx).
for r in $(seq 0 $((nranks - 1))); do
    line=$(echo "$out" | grep "^rank $r of ")
    sent=$(echo "$line" | sed -n 's/.*group sent \([0-9]*\) received.*/\1/p')
    recv=$(echo "$line" | sed -n 's/.*received \([0-9]*\) bytes.*/\1/p')
    drx=$(($(port_counter "$r" rx_bytes) - before[$r.rx]))
    dtx=$(($(port_counter "$r" tx_bytes) - before[$r.tx]))
    echo "bridge port of rank $r: +$drx bytes from it, +$dtx bytes to it; its group sent $sent, received $recv"
    if [ -z "$sent" ] || [ -z "$recv" ] || [ "$sent" -le 0 ] || [ "$drx" -lt "$sent" ] || [ "$dtx" -lt "$recv" ]; then
        echo "FAIL: rank $r's messages did not all cross its veth pair"
        fails=1
    fi
done
[ "$fails" -eq 0 ] && echo "PASS: $nranks ranks in separate network namespaces, bitwise the single-process fit"
exit "$fails"
