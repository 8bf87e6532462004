#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The counter of the original Python genserver README, on Gen.Server.

Messages are plain dictionaries; the override packs them as a{sv}."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib  # noqa: E402


class CounterServer(Gen.Server):
    def do_init(self, args):
        self.count = 0

    def do_handle_cast(self, message):
        action = message.unpack().get('action')
        if action == 'increment':
            self.count += 1
        elif action == 'decrement':
            self.count -= 1

    def do_handle_call(self, message):
        action = message.unpack().get('action')
        if action == 'get_count':
            return GLib.Variant('i', self.count)
        if action == 'increment_and_get':
            self.count += 1
            return GLib.Variant('i', self.count)
        raise ValueError(f"Unknown action {action!r}")

    def do_terminate(self, reason):
        print("Counter Server Stopped.")


counter = CounterServer()
counter.start()

counter.cast({'action': 'increment'})
counter.cast({'action': 'increment'})

count = counter.call({'action': 'get_count'})  # waits up to 5 s
print(f"Current Count: {count}")

new_count = counter.call({'action': 'increment_and_get'})
print(f"Incremented Count: {new_count}")

counter.stop()
