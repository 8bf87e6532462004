#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The C suites under ThreadSanitizer, on a Debian 12 machine:
#
#   build-aux/tsan.sh                # e.g. build-aux/tsan.sh --repeat 5
#
# Extra arguments go to `meson test`.
#
# Debian's GLib is not built with -fsanitize=thread, so TSan cannot see the
# happens-before edges of GMutex, GCond, GAsyncQueue or GVariant's reference
# counts and reports hundreds of races that are not there. GLib's futex-based
# GMutex and its reference counts are __atomic operations, which TSan does
# follow once GLib itself is compiled with it. So this builds the GLib that
# libglib2.0-dev has (Debian's source for the installed version) with TSan
# into build-tsan/glib, builds genserver against it in build-tsan, and runs
# the C suites with that GLib loaded. A second run reuses the GLib.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build="$top/build-tsan"
glib_prefix="$build/glib"
glib_stamp="$glib_prefix/.debian-version"
# Bump when the way GLib is built here changes, so that a stale build is redone.
glib_recipe=2

sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi

PACKAGES="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev dpkg-dev xz-utils python3"
missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done
if [ -n "$missing" ]; then
  echo "Installing:$missing"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi

glib_version=$(dpkg-query -W -f='${Version}' libglib2.0-dev)

# Every "deb" source again as "deb-src", in a file of our own.
add_deb_src () {
  list=/etc/apt/sources.list.d/genserver-deb-src
  echo "Adding deb-src entries to $list.sources and $list.list"
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] && [ "$file" != "$list.sources" ] && cat "$file" && echo
  done | awk 'BEGIN { RS = ""; ORS = "\n\n" }
    {
      keep = 0; out = ""; n = split ($0, lines, "\n")
      for (i = 1; i <= n; i++) {
        if (lines[i] ~ /^Types:/) {
          keep = lines[i] ~ /[ \t]deb([ \t]|$)/
          lines[i] = "Types: deb-src"
        }
        out = out lines[i] "\n"
      }
      if (keep) print out
    }' | $sudo tee "$list.sources" >/dev/null
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list | $sudo tee "$list.list" >/dev/null
  fi
}

has_glib_source () {
  apt-get source --print-uris "glib2.0=$glib_version" >/dev/null 2>&1
}

fetch_glib_source () {
  if ! has_glib_source; then
    if ! grep -rqsE '^(deb-src |Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      add_deb_src
    fi
    $sudo apt-get update -q
  fi
  if ! has_glib_source && [ ! -e /etc/apt/sources.list.d/genserver-deb-src.sources ] \
      && [ ! -e /etc/apt/sources.list.d/genserver-deb-src.list ]; then
    add_deb_src
    $sudo apt-get update -q
  fi
  rm -rf "$build/glib-src"
  mkdir -p "$build/glib-src"
  (cd "$build/glib-src" && apt-get source -q "glib2.0=$glib_version")
}

if [ -f "$glib_prefix/lib/pkgconfig/glib-2.0.pc" ] && [ "$(cat "$glib_stamp" 2>/dev/null)" = "$glib_version $glib_recipe" ]; then
  echo "Reusing the TSan GLib $glib_version in $glib_prefix"
else
  echo "Building GLib $glib_version with ThreadSanitizer into $glib_prefix"
  fetch_glib_source
  glib_source=$(find "$build/glib-src" -mindepth 1 -maxdepth 1 -type d -name 'glib2.0-*' | head -n 1)
  # On x86 g_bit_lock() and g_pointer_bit_lock() are inline "lock bts"
  # assembly, which TSan cannot see: GVariant's state lock and GData's lock
  # would look like no lock at all. GLib's portable version of them is made
  # of __atomic operations; use it under TSan.
  sed -i 's/^#if (defined (i386) || defined (__amd64__))$/& \&\& !defined (__SANITIZE_THREAD__)/' \
    "$glib_source/glib/gbitlock.c"
  grep -q '!defined (__SANITIZE_THREAD__)' "$glib_source/glib/gbitlock.c"
  rm -rf "$build/glib-build" "$glib_prefix"
  meson setup "$build/glib-build" "$glib_source" \
    --prefix="$glib_prefix" --libdir=lib \
    --buildtype=debugoptimized --wrap-mode=nodownload \
    -Db_sanitize=thread -Db_lundef=false \
    -Dtests=false -Dinstalled_tests=false -Dman=false -Dgtk_doc=false \
    -Dnls=disabled -Dselinux=disabled -Dlibmount=disabled -Dxattr=false \
    -Dlibelf=disabled -Dsysprof=disabled -Ddtrace=false -Dsystemtap=false
  meson install -C "$build/glib-build" --quiet
  echo "$glib_version $glib_recipe" > "$glib_stamp"
fi

# pkg_config_path is stored in the build folder, so a later plain
# `meson test -C build-tsan` keeps building against the TSan GLib.
if [ -f "$build/build.ninja" ]; then
  setup="meson setup --reconfigure"
else
  setup="meson setup"
fi
$setup "$build" \
  -Dpkg_config_path="$glib_prefix/lib/pkgconfig" \
  -Db_sanitize=thread -Db_lundef=false -Dintrospection=disabled
meson compile -C "$build"

export LD_LIBRARY_PATH="$glib_prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A binary that loads Debian's GLib would drown the run in false reports.
for binary in "$build"/tests/test-*; do
  [ -f "$binary" ] && [ -x "$binary" ] || continue
  loaded=$(ldd "$binary" | sed -n 's/^[[:space:]]*libglib-2\.0\.so\.0 => \([^ ]*\).*/\1/p')
  case "$(readlink -f "$loaded")" in
    "$(readlink -f "$glib_prefix")"/lib/*) ;;
    *)
      echo "$binary loads libglib-2.0 from '$loaded', not from $glib_prefix" >&2
      exit 1
      ;;
  esac
done

# The "tsan" test setup (meson.build) sets TSAN_OPTIONS and the suppressions.
exec meson test -C "$build" --setup=tsan --suite c --print-errorlogs "$@"
