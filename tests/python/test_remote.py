# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gen.Remote from Python: a C server in another process (test-remote run
as a service), peer-to-peer over a unix socket and on a private bus."""

import os
import subprocess
import threading

import pytest
from conftest import DEADLINE, assert_gen_error, wait_event

from gi.repository import Gen, Gio, GLib

SERVICE = os.environ['GEN_TEST_REMOTE_SERVER']
OBJECT_PATH = '/io/github/genserver/Test/Counter'
BUS_NAME = 'io.github.genserver.Test'


def spawn(mode, address):
    process = subprocess.Popen([SERVICE, mode, address], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == 'ready\n'
    return process


def iterate_until(predicate, what):
    context = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not predicate():
        assert GLib.get_monotonic_time() < deadline, f"{what} did not happen in time"
        context.iteration(False)
        GLib.usleep(1000)


@pytest.fixture(params=['p2p', 'bus'])
def service(request, tmp_path):
    bus = None
    if request.param == 'p2p':
        address = f'unix:path={tmp_path}/socket'
        process = spawn('--serve', address)
        flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        bus_name = None
    else:
        bus = Gio.TestDBus.new(Gio.TestDBusFlags.NONE)
        bus.up()
        address = bus.get_bus_address()
        process = spawn('--serve-bus', address)
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        bus_name = BUS_NAME
    connection = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    remote = Gen.Remote.new_sync(connection, bus_name, OBJECT_PATH, None)
    yield process, remote
    if not connection.is_closed():
        connection.close_sync(None)
    process.stdin.close()
    process.kill()
    process.wait()
    if bus is not None:
        bus.down()


def test_plain_values_and_types(service):
    _, remote = service
    assert isinstance(remote, Gen.Remote)
    assert remote.get_call_type() == '(sx)'
    remote.cast(('add', 2))
    assert remote.call(('add', 1)) == 3
    assert remote.call(('get', 0), timeout=None) == 3
    assert remote.call(('get', 0), unpack=False).get_type_string() == 'x'


def test_wrong_type_is_refused_in_the_caller(service):
    _, remote = service
    with pytest.raises(GLib.Error) as excinfo:
        remote.call('add')
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert 'RemoteCounter expects call messages of type “(sx)”, got “s”' in error.message
    with pytest.raises(GLib.Error) as excinfo:
        remote.cast(['add'])
    assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)


def test_errors_keep_domain_and_code(service):
    _, remote = service
    with pytest.raises(GLib.Error) as excinfo:
        remote.call(('fail-io', 0))
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED)
    assert excinfo.value.message == 'denied on purpose'
    with pytest.raises(GLib.Error) as excinfo:
        remote.call(('fail-gen', 0))
    assert_gen_error(excinfo, Gen.ServerError.NAME_TAKEN)


def test_call_async_and_acall(service):
    import asyncio

    _, remote = service
    results = []
    remote.call_async(('add', 4), lambda reply, error: results.append((reply, error)))
    iterate_until(lambda: results, "the reply")
    assert results == [(4, None)]
    assert asyncio.run(remote.acall(('get', 0))) == 4


def test_monitor_tells_the_peer_vanished(service):
    process, remote = service
    notices = []
    remote.monitor(lambda remote_, reason, *_: notices.append(reason))
    assert remote.call(('get', 0)) == 0
    process.kill()
    process.wait()
    iterate_until(lambda: notices, "the notice")
    assert notices[0].matches(Gen.server_error_quark(), Gen.ServerError.NO_CONNECTION)
    assert notices[0].message.startswith('noconnection')
    with pytest.raises(GLib.Error) as excinfo:
        remote.call(('get', 0))
    assert excinfo.value.domain == GLib.quark_to_string(Gen.server_error_quark())


@pytest.mark.parametrize('service', ['bus'], indirect=True)
@pytest.mark.parametrize('how', ['threaded', 'asyncio'])
def test_monitor_without_a_main_loop(service, how):
    """Nothing iterates a GLib context here: a remote made from Python
    listens on the override's own thread, and its monitor is told, on the
    helper thread or on the asyncio loop, that the server's process is
    gone (its bus name lost its owner)."""
    import asyncio

    process, remote = service
    assert remote.call(('get', 0)) == 0
    if how == 'threaded':
        told = threading.Event()
        reasons = []

        def down(remote_, reason, tag):
            reasons.append((remote_, reason, tag))
            told.set()

        remote.monitor(down, 'tag', threaded=True)
        process.kill()
        process.wait()
        wait_event(told, "the notice")
        remote_, reason, tag = reasons[0]
        assert remote_ == remote and tag == 'tag'
    else:
        async def main():
            told = asyncio.get_running_loop().create_future()
            remote.monitor(lambda remote_, reason: told.set_result(
                (reason, threading.current_thread())))
            process.kill()
            process.wait()
            return await asyncio.wait_for(told, DEADLINE)

        reason, thread = asyncio.run(main())
        assert thread is threading.main_thread()
    assert reason.matches(Gen.server_error_quark(), Gen.ServerError.NO_CONNECTION)
    assert reason.message.startswith('noconnection')
