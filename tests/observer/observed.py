# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared by the observer's Python tests: a private bus, and the observed
process (tests/observer/observed.c) running on it with its known tree."""

import os
import subprocess
import tempfile
import threading

import gi
import pytest

gi.require_version('Gen', '1')

from gi.repository import Gio, GLib  # noqa: E402

DEADLINE = 30.0
BUS_NAME = 'io.github.genserver.Observed'
INTERFACE = 'io.github.genserver.Observer1'
PATH = '/io/github/genserver/Observer1'


class Observed:
    """The observed program on a private bus, listening on a socket too."""

    def __init__(self):
        self.bus = Gio.TestDBus.new(Gio.TestDBusFlags.NONE)
        self.bus.up()
        self.address = self.bus.get_bus_address()
        self.tmpdir = tempfile.TemporaryDirectory(prefix='genserver-observed-')
        self.socket = os.path.join(self.tmpdir.name, 'observer')
        self.process = subprocess.Popen(
            [os.environ['GEN_OBSERVED'], '--bus', self.address, '--name', BUS_NAME,
             '--socket', self.socket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        # It prints "ready" once exported, or dies (an empty line).
        assert self.process.stdout.readline() == 'ready\n'
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)

    def close(self):
        self.process.stdin.close()
        assert self.process.wait(DEADLINE) == 0
        self.tmpdir.cleanup()
        self.bus.down()

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)


@pytest.fixture
def observed():
    process = Observed()
    yield process
    process.close()


def wait_until(predicate, what):
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not predicate():
        assert GLib.get_monotonic_time() < deadline, f'{what} not met in time'
        # Polled: nothing in this process is told when the other changes.
        threading.Event().wait(0.01)
