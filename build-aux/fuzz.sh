#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fuzzes the message path with libFuzzer, under AddressSanitizer and UBSan:
#
#   build-aux/fuzz.sh          # each target in tests/fuzz/ for 30 s
#   build-aux/fuzz.sh 600      # each for 10 minutes
#
# Builds genserver with clang in build-fuzz (Debian: apt install clang),
# the library itself instrumented for libFuzzer (-fsanitize=fuzzer-no-link),
# so that the fuzzer is guided by the coverage of genserver's code and not
# only of the harnesses; replays the seed corpus, then fuzzes each target
# for the given time.
# Inputs it finds go to build-fuzz/tests/fuzz/<target>-corpus; a crash is
# saved as build-fuzz/tests/fuzz/<target>-crash-<hash> and fails the run:
# add it to tests/fuzz/corpus/<target>/ so that `meson test` replays it
# from then on, in every build, with or without clang.
#
# Exits 77 (skipped) when there is no clang with libFuzzer.
set -eu

cd "$(dirname "$0")/.."
seconds="${1:-30}"
build=build-fuzz

compiler=""
for candidate in clang-14 clang; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     echo 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { return 0; }' |
       "$candidate" -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1; then
    compiler="$candidate"
    break
  fi
done
if [ -z "$compiler" ]; then
  echo "fuzz.sh: no clang with libFuzzer (apt install clang); not fuzzing" >&2
  exit 77
fi

# Coverage instrumentation for every C file, the library's included; the
# harnesses add -fsanitize=fuzzer, which links libFuzzer.
instrument="-fsanitize=fuzzer-no-link"
if [ -f "$build/build.ninja" ]; then
  meson configure "$build" -Dc_args="$instrument" >/dev/null
else
  CC="$compiler" meson setup "$build" \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args="$instrument" \
    -Dintrospection=disabled -Ddocs=disabled -Dexamples=false
fi
targets=$(cd tests/fuzz/corpus && ls)
# shellcheck disable=SC2086 # one word per target
meson compile -C "$build" $targets

for target in tests/fuzz/corpus/*/; do
  mkdir -p "$build/tests/fuzz/$(basename "$target")-corpus"
done

# Any sanitizer report stops the target, which libFuzzer reports as a crash.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
# meson's timeout for a target is 600 s: stretched for longer runs.
meson test -C "$build" --no-rebuild --suite fuzz --suite fuzzing --logbase testlog-fuzzing \
  --print-errorlogs --test-args="-max_total_time=$seconds" \
  --timeout-multiplier=$((seconds / 300 + 1)) || status=$?

# How much each target ran and covered (edges and features, library
# included): libFuzzer's last status line and final statistics.
awk '/^test:/ { name = $NF }
     /DONE.*cov: / { for (i = 1; i < NF; i++) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1) } }
     /^stat::number_of_executed_units/ { runs = $2 }
     /^stat::average_exec_per_sec/ { print name ": " runs " inputs, " $2 " per second, cov " cov ", ft " ft }' \
  "$build/meson-logs/testlog-fuzzing.txt"
ls "$build"/tests/fuzz/*-crash-* 2>/dev/null && status=1
exit $status
