# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gen.DBusListener from Python: a Python server served peer-to-peer on
every connection, called from another process, and the bound on peers that
connect and never authenticate."""

import os
import select
import socket
import subprocess
import threading

import pytest
from conftest import DEADLINE, assert_gen_error, wait_event

from gi.repository import Gen, Gio, GLib

# test-dbus-listener: --call ADDRESS PATH MESSAGE prints the reply.
PEER = os.environ['GEN_TEST_DBUS_LISTENER']


class Adder(Gen.Server):
    call_type = '(sx)'
    reply_type = 'x'

    def do_init(self, args):
        self.sum = 0

    def do_handle_call(self, message):
        _, n = message.unpack()
        self.sum += n
        return self.sum


@pytest.fixture
def service(servers, tmp_path):
    """A listener on a thread running a GLib main loop, as a service's main
    thread would: the test is then a plain client."""
    address = f'unix:path={tmp_path}/socket'
    context = GLib.MainContext.new()
    loop = GLib.MainLoop.new(context, False)
    made = threading.Event()
    listeners = []

    def serve():
        context.push_thread_default()
        listeners.append(Gen.DBusListener.new(address, None))
        made.set()
        loop.run()
        context.pop_thread_default()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wait_event(made, "the listener")
    adder = Adder()
    adder.start()
    servers.append(adder)
    yield listeners[0], adder, address
    listeners[0].close()
    loop.quit()
    thread.join(DEADLINE)


def call_from_another_process(address, path, message):
    result = subprocess.run([PEER, '--call', address, path, message], capture_output=True,
                            text=True, timeout=DEADLINE)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def connect(address):
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)


def test_export_on_every_connection(service):
    listener, adder, address = service
    assert listener.props.client_address == address
    assert listener.get_client_address() == address
    assert listener.props.max_handshakes == 32
    assert listener.get_handshake_timeout() == 5.0  # seconds; props keep C's 5000 ms

    listener.export(adder, '/adder')
    assert call_from_another_process(address, '/adder', '("add", 2)') == (0, '2', '')
    assert call_from_another_process(address, '/adder', '("add", 3)') == (0, '5', '')
    with pytest.raises(GLib.Error) as excinfo:
        listener.export(adder, '/again')
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.EXISTS)

    # A connection open before the export sees it; unexport takes it off.
    other = Adder()
    other.start()
    connection = connect(address)
    listener.export(other, '/other')
    assert Gen.Remote.new_sync(connection, None, '/other', None).call(('add', 7)) == 7
    assert listener.unexport(other)
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Remote.new_sync(connection, None, '/other', None)
    assert_gen_error(excinfo, Gen.ServerError.NOT_FOUND)
    other.stop(DEADLINE)

    listener.close()
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not connection.is_closed():
        assert GLib.get_monotonic_time() < deadline, "the connection stayed open"
        GLib.usleep(1000)
    code, _, error = call_from_another_process(address, '/adder', '("add", 1)')
    assert code != 0, error


def wait_closed(sockets, count):
    """Waits until the listener closed @count of @sockets; returns those."""
    closed = []
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while len(closed) < count:
        left = (deadline - GLib.get_monotonic_time()) / 1e6
        assert left > 0, f"{len(closed)} of {count} connections closed in time"
        waiting = [peer for peer in sockets if peer not in closed]
        readable, _, _ = select.select(waiting, [], [], left)
        for peer in readable:
            assert peer.recv(1) == b''
            closed.append(peer)
    return closed


def test_silent_peers_are_bounded_and_timed_out(service):
    listener, adder, address = service
    listener.export(adder, '/adder')
    listener.props.max_handshakes = 2
    listener.set_handshake_timeout(DEADLINE)
    path = address[len('unix:path='):]

    # Five peers that connect and never authenticate: two are held, the
    # other three are closed at once.
    silent = []
    for _ in range(5):
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.connect(path)
        silent.append(peer)
    closed = wait_closed(silent, 3)
    held = [peer for peer in silent if peer not in closed]
    assert len(held) == 2
    assert select.select(held, [], [], 0)[0] == []
    for peer in silent:
        peer.close()

    # Silent past the timeout: cut off. (Places enough for them, whether
    # or not the listener has seen the peers above hang up yet.)
    listener.props.max_handshakes = 32
    listener.set_handshake_timeout(0.1)
    late = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    started = GLib.get_monotonic_time()
    for peer in late:
        peer.connect(path)
    wait_closed(late, 2)
    # A timeout never fires early: read as milliseconds, 0.1 would cut them at once.
    assert GLib.get_monotonic_time() - started >= 100_000
    for peer in late:
        peer.close()

    # Places free again: a real client is served.
    listener.set_handshake_timeout(DEADLINE)
    assert call_from_another_process(address, '/adder', '("add", 4)') == (0, '4', '')
