#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Python client of the counter that remote-counter serves over D-Bus.

    remote_counter.py unix:path=/tmp/counter     calls a running server
    remote_counter.py --spawn ./remote-counter   starts one first
"""

import os
import subprocess
import sys
import tempfile

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, Gio  # noqa: E402


def run_client(address):
    connection = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
    # No bus name: peer-to-peer. The remote knows the server's types (a{sv}),
    # so plain dictionaries are packed for it.
    counter = Gen.Remote.new_sync(connection, None, '/org/example/Counter', None)

    counter.cast({'action': 'increment'})
    counter.cast({'action': 'increment'})

    count = counter.call({'action': 'get_count'})  # waits up to 5 s
    print(f"Current Count: {count}", flush=True)

    new_count = counter.call({'action': 'increment_and_get'})
    print(f"Incremented Count: {new_count}", flush=True)
    connection.close_sync(None)


if sys.argv[1:2] == ['--spawn']:
    with tempfile.TemporaryDirectory() as directory:
        address = 'unix:path=' + os.path.join(directory, 'socket')
        server = subprocess.Popen([sys.argv[2], 'server', address],
                                  stdout=subprocess.PIPE, text=True)
        server.stdout.readline()  # "Counter Server listening on ..."
        run_client(address)
        server.terminate()
        print(server.stdout.read(), end='')
        sys.exit(server.wait())
else:
    run_client(sys.argv[1])
