#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Makes, in DIR, what the node tests need, so that no private key is ever
# committed: a CA (ca.crt), a certificate and key for each node, signed by
# it, naming the addresses the node listens on (a.crt/a.key for 192.0.2.1
# and 127.0.0.1, b.crt/b.key for 192.0.2.2 and 127.0.0.1, both also for
# localhost and this host's name, as Erlang's TLS distribution checks), and
# a certificate from another CA (rogue.crt/rogue.key) that nodes must refuse.
#
#   tests/make-node-certs.sh DIR
set -eu

dir=$1
mkdir -p "$dir"
cd "$dir"

ca () {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=genserver test $1" 2>/dev/null
}

# node NAME CA IP...
node () {
  name=$1 signer=$2
  shift 2
  san="DNS:localhost,DNS:$(hostname)"
  for ip in "$@"; do san="$san,IP:$ip"; done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/CN=genserver test node $name" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' \
    "$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$signer.crt" -CAkey "$signer.key" \
    -CAcreateserial -out "$name.crt" -days 2 -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca
ca rogue-ca
node a ca 192.0.2.1 127.0.0.1
node b ca 192.0.2.2 127.0.0.1
node rogue rogue-ca 192.0.2.2 127.0.0.1
