#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Concurrent acall()s from asyncio against Python servers on a pool: each
handler answers 0.3 s later (a timer and a taken reply), so the calls cost
about one handler when they run concurrently, and the thread count shows
that no thread is made per call.

    GI_TYPELIB_PATH=build/genserver LD_LIBRARY_PATH=build/genserver \\
    PYTHONPATH=bindings/python:build/bindings/python \\
        /usr/bin/python3 benchmarks/python/bench_acall.py
"""

import asyncio
import threading
import time

import gi

gi.require_version("Gen", "1")
from gi.repository import Gen  # noqa: E402

DELAY = 0.3  # seconds each handler takes to answer


class Slow(Gen.Server):
    def do_init(self, args):
        self.pending = {}
        self.next_key = 0

    def do_handle_call(self, message):
        self.next_key += 1
        self.pending[self.next_key] = self.take_reply()
        self.send_after(self.next_key, DELAY)

    def do_handle_info(self, message):
        self.pending.pop(message.unpack()).return_value(1)


def main():
    pool = Gen.Scheduler.new_pool(2)
    servers = [Slow(scheduler=pool) for _ in range(100)]
    for server in servers:
        server.start()
    for n in (100, 1000, 5000):
        async def calls():
            return await asyncio.gather(*(servers[i % 100].acall(i, timeout=None)
                                          for i in range(n)))

        start = time.perf_counter()
        assert asyncio.run(calls()) == [1] * n
        print(f"acall_{n}_concurrent {time.perf_counter() - start:.3f} s "
              f"(handlers {DELAY} s, threads {threading.active_count()})", flush=True)
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
