#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The network of the node tests, kept for as long as the test that started
# it lives: two network namespaces (names unique to this run, since other
# runs may be going on) joined by a veth pair addressed from the
# documentation range (192.0.2.1 in A, 192.0.2.2 in B), and throw-away
# certificates (see make-node-certs.sh). It prints
#   netns_a=FILE netns_b=FILE veth_b=NAME certs=DIR
# one per line, then `ready`, and waits for its standard input to close,
# which happens when the test exits, however it exits; then it removes
# everything. Without root, ip or openssl it prints `skip: REASON`.
#
#   tests/node-netns.sh < pipe-held-by-the-test
set -u

here=$(cd "$(dirname "$0")" && pwd)

skip () {
  echo "skip: $1"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "the TLS node tests make network namespaces, which needs root"
command -v ip >/dev/null 2>&1 || skip "the TLS node tests need ip (iproute2)"
command -v openssl >/dev/null 2>&1 || skip "the TLS node tests need openssl"

id=$$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
ns_a=gsnode-$id-a
ns_b=gsnode-$id-b
veth_a=$(printf %.15s "gsa$id")
veth_b=$(printf %.15s "gsb$id")
certs=$(mktemp -d)

cleanup () {
  ip netns delete "$ns_a" 2>/dev/null
  ip netns delete "$ns_b" 2>/dev/null
  ip link delete "$veth_a" 2>/dev/null
  rm -rf "$certs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$ns_a" 2>/dev/null || skip "cannot make network namespaces here"
ip netns add "$ns_b" &&
ip link add "$veth_a" type veth peer name "$veth_b" &&
ip link set "$veth_a" netns "$ns_a" &&
ip link set "$veth_b" netns "$ns_b" &&
ip -n "$ns_a" address add 192.0.2.1/24 dev "$veth_a" &&
ip -n "$ns_b" address add 192.0.2.2/24 dev "$veth_b" &&
ip -n "$ns_a" link set lo up &&
ip -n "$ns_b" link set lo up &&
ip -n "$ns_a" link set "$veth_a" up &&
ip -n "$ns_b" link set "$veth_b" up &&
"$here/make-node-certs.sh" "$certs" || skip "cannot set up the namespaces' network"

echo "netns_a=/var/run/netns/$ns_a"
echo "netns_b=/var/run/netns/$ns_b"
echo "veth_b=$veth_b"
echo "certs=$certs"
echo ready

# Until the test's end closes our standard input.
cat >/dev/null
