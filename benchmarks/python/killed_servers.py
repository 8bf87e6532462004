#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory left behind by Python servers whose runs end: N servers, each
started, called once (its thread is set up) and then ended, either killed
through a link (a partner crashes: no do_terminate runs) or stopped. Prints
the resident memory after each batch (and the thread states runs hold, as
the C module counts them), and what each run left behind, in KiB.

    GI_TYPELIB_PATH=build/genserver LD_LIBRARY_PATH=build/genserver \\
    PYTHONPATH=bindings/python:build/bindings/python \\
        /usr/bin/python3 benchmarks/python/killed_servers.py [N] 2>/dev/null

(stderr has a crash report per partner.) A run that keeps its thread state
leaks about 5 KiB per killed server; one that gives it back levels off
after the first batch.
"""

import gc
import sys
import time

import gi

gi.require_version("Gen", "1")
from gi.repository import Gen  # noqa: E402
import gi.overrides.Gen  # noqa: E402

def held():
    """Thread states the runs hold now, where the C module counts them."""
    counter = getattr(gi.overrides.Gen._genserver, 'held_thread_states', None)
    return counter() if counter is not None else None


def rss_kib():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Worker(Gen.Server):
    def do_handle_call(self, message):
        return 'ok'


class Partner(Gen.Server):
    def do_handle_cast(self, message):
        raise RuntimeError("partner crashed on purpose")


def wait_stopped(server):
    deadline = time.monotonic() + 30
    while server.get_run_status() != 'stopped':
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server!r} did not stop")
        time.sleep(0.0005)


def end_runs(n, how):
    for _ in range(n):
        server = Worker()
        server.start()
        server.call('set up')
        if how == 'killed':
            partner = Partner()
            partner.start()
            partner.link(server)
            partner.cast('crash')
            wait_stopped(partner)
        else:
            server.stop()
        wait_stopped(server)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    # Quiet: every partner's crash is logged.
    import logging
    logging.disable(logging.CRITICAL)
    for how in ('stopped', 'killed'):
        end_runs(50, how)  # warm-up: allocators and caches settle
        gc.collect()
        rss = rss_kib()
        for batch in range(3):
            end_runs(n, how)
            gc.collect()
            print(f"{how}: after {(batch + 1) * n} runs: RSS {rss_kib() - rss:+d} KiB, "
                  f"thread states held {held()}")
        print(f"{how}: {(rss_kib() - rss) / (3 * n):.2f} KiB per run")


if __name__ == '__main__':
    main()
