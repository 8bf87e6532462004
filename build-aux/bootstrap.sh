#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sets genserver up on a Debian 12 machine and runs something:
#
#   build-aux/bootstrap.sh example   # install what is missing, build, run the counter
#   build-aux/bootstrap.sh test      # install what is missing, build, run the test suite
#
# Extra arguments after "test" go to `meson test` (e.g. --setup=valgrind).
set -eu

cd "$(dirname "$0")/.."

PACKAGES="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev gobject-introspection
libgirepository1.0-dev gi-docgen valgrind python3 python3-gi python3-pytest python3-dev python-gi-dev gjs valac
dbus-daemon
libgtk-4-dev xvfb xauth tmux
glib-networking openssl iproute2"

missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done

if [ -n "$missing" ]; then
  echo "Installing:$missing"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build

what="${1:-test}"
[ $# -gt 0 ] && shift
case "$what" in
  example)
    exec ./build/examples/counter
    ;;
  test)
    exec meson test -C build --print-errorlogs "$@"
    ;;
  *)
    echo "usage: $0 example|test [meson test arguments]" >&2
    exit 2
    ;;
esac
