#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A supervision tree with a nested supervisor. The same program as
examples/supervision-tree.c:

    root (one_for_one)
    ├── logger
    └── pair (one_for_all, at most 1 restart a minute)
        ├── left
        └── right

A crash of left is handled by pair; a second one within the minute makes
pair give up, and root restarts pair with fresh children."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib, Gio  # noqa: E402


class Worker(Gen.Server):
    __gtype_name__ = 'Worker'
    cast_type = 's'

    def do_init(self, args):
        self.name = args.unpack()
        self.count = 0
        print(f"{self.name} started", flush=True)

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
        print(f"{self.name} stopped: {reason.message if reason else 'normally'}", flush=True)


def crash_report(domain, level, message, *user_data):
    print(f"Crash report: {message}", flush=True)


def crash_and_wait(victim, watched, supervisor):
    """Crashes victim and returns once supervisor dealt with it."""
    stopped = []
    watched.monitor(lambda server, reason: stopped.append(reason))
    victim.cast('crash')
    while not stopped:
        GLib.MainContext.default().iteration(True)
    supervisor.which_children()  # answered after the exit notice: restarted


def worker_spec(name):
    return Gen.ChildSpec.new(name, Worker.__gtype__, GLib.Variant('s', name))


GLib.log_set_handler('Gen', GLib.LogLevelFlags.LEVEL_MESSAGE, crash_report)

# A supervisor is a child like any other: its start arguments are its own
# children, its properties come from the spec.
pair = Gen.ChildSpec.new('pair', Gen.Supervisor.__gtype__,
                         Gen.Supervisor.build_args([worker_spec('left'), worker_spec('right')]))
pair.add_property('strategy', GLib.Variant('s', 'one-for-all'))
pair.add_property('intensity', GLib.Variant('u', 1))
pair.add_property('period-ms', GLib.Variant('u', 60000))

root = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 60.0)
root.start(Gen.Supervisor.build_args([worker_spec('logger'), pair]))

logger = root.get_child('logger')
logger.cast('add')
logger.cast('add')

print("-- left crashes: pair restarts left and right", flush=True)
first_pair = root.get_child('pair')
victim = first_pair.get_child('left')
crash_and_wait(victim, victim, first_pair)

print("-- left crashes again: pair gives up, root restarts it", flush=True)
crash_and_wait(first_pair.get_child('left'), first_pair, root)

second_pair = root.get_child('pair')
print(f"pair is {'a new' if second_pair is not first_pair else 'the old'} instance; "
      f"the logger kept its count: {logger.call('get')}", flush=True)

print("-- root stops, and its children in reverse order", flush=True)
root.stop()
