#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Let it crash: a supervised worker crashes, its supervisor restarts it
with fresh state, and its registered name follows the new instance.

The same program as examples/supervision.c: the worker is a Python class,
and the C supervisor restarts it through its GType."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib, Gio  # noqa: E402


class Worker(Gen.Server):
    __gtype_name__ = 'Worker'

    def do_init(self, args):
        self.count = 0
        print("Worker started with count 0", flush=True)

    def do_handle_cast(self, message):
        command = message.unpack()
        if command == 'add':
            self.count += 1
        elif command == 'crash':
            raise GLib.Error.new_literal(Gio.io_error_quark(), "asked to crash",
                                         Gio.IOErrorEnum.FAILED)

    def do_handle_call(self, message):
        return GLib.Variant('i', self.count)

    def do_terminate(self, reason):
        if reason is not None:
            print(f"Worker stopped: {reason.message}", flush=True)
        else:
            print("Worker stopped normally", flush=True)


def crash_report(domain, level, message, *user_data):
    print(f"Crash report: {message}", flush=True)


GLib.log_set_handler('Gen', GLib.LogLevelFlags.LEVEL_MESSAGE, crash_report)

registry = Gen.Registry.get_default()
spec = Gen.ChildSpec.new('worker', Worker.__gtype__, None)
spec.set_name('worker')
supervisor = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 5.0)
supervisor.start(Gen.Supervisor.build_args([spec]))

registry.cast('worker', 'add')
registry.cast('worker', 'add')
print(f"Count: {registry.call('worker', 'get')}", flush=True)

first = registry.lookup('worker')
stopped = []
first.monitor(lambda server, reason: stopped.append(reason))
registry.cast('worker', 'crash')
while not stopped:
    GLib.MainContext.default().iteration(True)

supervisor.which_children()
second = registry.lookup('worker')
owner = "a new" if second is not None and second is not first else "the old"
print(f"The name “worker” now belongs to {owner} instance", flush=True)
registry.cast('worker', 'add')
print(f"Count: {registry.call('worker', 'get')}", flush=True)

supervisor.stop()
print("Supervisor stopped.", flush=True)
