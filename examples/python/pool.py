#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ten thousand counters on the default pool: no thread of their own, and
a call without a deadline runs right on the caller's thread."""

import threading

import gi
gi.require_version('Gen', '1')
from gi.repository import Gen, GLib  # noqa: E402

N_COUNTERS = 10000


class PoolCounter(Gen.Server):
    cast_type = 'i'

    def do_init(self, args):
        self.count = 0

    def do_handle_cast(self, message):
        self.count += message.unpack()

    def do_handle_call(self, message):
        what, thread = message.unpack()
        if what == 'thread':
            return GLib.Variant('b', thread == threading.get_ident())
        return GLib.Variant('i', self.count)


pool = Gen.Scheduler.get_default()
counters = [PoolCounter(scheduler=pool) for _ in range(N_COUNTERS)]
for counter in counters:
    counter.start()
for counter in counters:
    counter.cast(1)
    counter.cast(1)
total = sum(counter.call(('count', 0)) for counter in counters)
print(f"{N_COUNTERS} counters on the pool, total {total}")

# No deadline: an idle pool server runs the handler on this thread.
here = counters[0].call(('thread', threading.get_ident()), timeout=None)
print(f"A call without a deadline ran on the caller's thread: {'yes' if here else 'no'}")

for counter in counters:
    counter.stop(None)
print("All stopped.")
