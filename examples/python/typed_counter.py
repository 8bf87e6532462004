#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The typed counter of the original Python genserver README: the server
declares its message types, and a message of another type is refused in
the caller, before the server sees it."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib  # noqa: E402


class TypedCounterServer(Gen.Server):
    __gtype_name__ = 'TypedCounterServer'
    cast_type = '(si)'  # an action and an amount
    call_type = '(s)'   # an action
    reply_type = 'i'    # plain int replies are packed as int32

    def do_init(self, args):
        self.count = 0

    def do_handle_cast(self, message):
        action, amount = message.unpack()
        if action == 'increment':
            self.count += amount
        elif action == 'decrement':
            self.count -= amount

    def do_handle_call(self, message):
        (action,) = message.unpack()
        if action == 'get_count':
            return self.count
        if action == 'increment_and_get':
            self.count += 1
            return self.count
        raise ValueError(f"Unknown action {action!r}")

    def do_terminate(self, reason):
        print("Counter Server Stopped.")


counter = TypedCounterServer()
counter.start()

counter.cast(('increment', 1))
counter.cast(('increment', 1))

try:
    counter.cast(('increment', 'one'))  # wrong type: refused here
except GLib.Error as error:
    print(f"Refused: {error.message}")

print(f"Current Count: {counter.call(('get_count',))}")
print(f"Incremented Count: {counter.call(('increment_and_get',))}")

counter.stop()
