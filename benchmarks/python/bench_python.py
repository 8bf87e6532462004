#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Python-subclassed Gen.Server called from Python, against a Pykka actor
doing the same work (add to a counter, reply with the count).

    GI_TYPELIB_PATH=build/genserver LD_LIBRARY_PATH=build/genserver \\
    PYTHONPATH=bindings/python:build/bindings/python \\
        /usr/bin/python3 benchmarks/python/bench_python.py [--quick]

With the override (PYTHONPATH), as Python users run it. stdout carries
"python call_rtt X us", "python cast_rate_1_N X msg/s" for bursts of N
casts (2,000, 20,000 and 200,000; cast_rate_1 again for the largest) and
the same for pykka, for benchmarks/compare.py; anything else goes to
stderr. Each workload runs once at a tenth of its size to warm up, then
five times interleaved with Pykka's (three with --quick): the best is
reported under the metric's name, the median under NAME_median, and the
ratios on stderr.
"""

import argparse
import statistics
import sys
import time

import gi

gi.require_version("Gen", "1")
from gi.repository import GLib, Gen  # noqa: E402

import pykka  # noqa: E402

CALL_TIMEOUT = 60.0  # seconds


class Counter(Gen.Server):
    """Adds each message's int32 to the count; calls reply with the count.
    Plain values both ways, as a Python user writes it."""

    def __init__(self):
        super().__init__(call_type="i", cast_type="i")
        self.count = 0

    def do_handle_cast(self, message):
        self.count += message.get_int32()

    def do_handle_call(self, message):
        self.count += message.get_int32()
        return GLib.Variant("x", self.count)


class PykkaCounter(pykka.ThreadingActor):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_receive(self, message):
        self.count += message
        return self.count


def gen_call_rtt(n):
    server = Counter()
    server.start(None)
    try:
        start = time.perf_counter()
        for _ in range(n):
            server.call(1, CALL_TIMEOUT)
        elapsed = time.perf_counter() - start
        count = server.call(0, CALL_TIMEOUT)
        assert count == n, (count, n)
    finally:
        server.stop()
    return elapsed * 1e6 / n


def gen_cast_rate(n):
    server = Counter()
    server.start(None)
    try:
        start = time.perf_counter()
        for _ in range(n):
            server.cast(1)
        # The call is answered after every cast before it was handled.
        count = server.call(0, CALL_TIMEOUT)
        elapsed = time.perf_counter() - start
        assert count == n, (count, n)
    finally:
        server.stop()
    return n / elapsed


def pykka_cast_rate(n):
    actor = PykkaCounter.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            actor.tell(1)
        count = actor.ask(0)
        elapsed = time.perf_counter() - start
        assert count == n, (count, n)
    finally:
        actor.stop()
    return n / elapsed


def pykka_call_rtt(n):
    actor = PykkaCounter.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            actor.ask(1)
        elapsed = time.perf_counter() - start
        count = actor.ask(0)
        assert count == n, (count, n)
    finally:
        actor.stop()
    return elapsed * 1e6 / n


# Each pair runs interleaved, so that both sides see the same machine: on a
# shared machine either side's figure swings with the load. The best of
# BEST_OF rounds, and the median of MEDIAN_OF rounds, are reported.
BEST_OF = 3
MEDIAN_OF = 5
# Cast workloads: small bursts, where a queue that grows costs little, and
# long runs.
CAST_SIZES = (2000, 20000, 200000)


def bench_pair(ours, theirs, n, better, rounds):
    for fn in (ours, theirs):
        fn(max(n // 10, 8))  # warm-up
    results = ([], [])
    for _ in range(rounds):
        results[0].append(ours(n))
        results[1].append(theirs(n))
    return ((better(results[0]), statistics.median(results[0])),
            (better(results[1]), statistics.median(results[1])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small workloads (a second or so)")
    args = parser.parse_args()
    calls = 2000 if args.quick else 20000
    cast_sizes = CAST_SIZES
    rounds = BEST_OF if args.quick else max(BEST_OF, MEDIAN_OF)
    if not hasattr(Gen, "to_variant"):
        sys.exit("bench_python: the Gen override is not on sys.path "
                 "(PYTHONPATH=bindings/python:build/bindings/python)")
    from gi.overrides import Gen as override

    print(f"# bench_python: Python {sys.version.split()[0]}, "
          f"PyGObject {gi.__version__}, pykka {pykka.__version__}, "
          f"calls={calls}, casts={'/'.join(map(str, cast_sizes))}, {rounds} interleaved "
          f"rounds (best, median), C module "
          f"{'loaded' if getattr(override, '_genserver', None) else 'missing'}", file=sys.stderr)
    (gen, gen_median), (theirs, theirs_median) = bench_pair(
        gen_call_rtt, pykka_call_rtt, calls, min, rounds)
    for metric, value, unit in (("call_rtt", gen, "us"), ("call_rtt_median", gen_median, "us")):
        print(f"python {metric} {value:.3f} {unit}", flush=True)
    for metric, value, unit in (("call_rtt", theirs, "us"),
                                ("call_rtt_median", theirs_median, "us")):
        print(f"pykka {metric} {value:.3f} {unit}", flush=True)
    print(f"# call_rtt: best {theirs / gen:.2f}x, medians python {gen_median:.3f} us, "
          f"pykka {theirs_median:.3f} us ({theirs_median / gen_median:.2f}x)", file=sys.stderr)
    for n in cast_sizes:
        (gen, gen_median), (theirs, theirs_median) = bench_pair(
            gen_cast_rate, pykka_cast_rate, n, max, rounds)
        # cast_rate_1 also names the largest size, for compare.py's target.
        names = [f"cast_rate_1_{n}"] + (["cast_rate_1"] if n == cast_sizes[-1] else [])
        for name in names:
            for system, best, median in (("python", gen, gen_median),
                                         ("pykka", theirs, theirs_median)):
                print(f"{system} {name} {best:.0f} msg/s", flush=True)
                print(f"{system} {name}_median {median:.0f} msg/s", flush=True)
        print(f"# cast_rate {n}: best {gen / theirs:.2f}x, median {gen_median:.0f} vs "
              f"{theirs_median:.0f} msg/s ({gen_median / theirs_median:.2f}x)", file=sys.stderr)


if __name__ == "__main__":
    main()
