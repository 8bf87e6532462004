# SPDX-License-Identifier: LGPL-2.1-or-later
"""Across languages: C clients calling a Python server from C threads, and a
Python client calling a server written in C (GenTest, tests/lib)."""

import threading

import pytest
from conftest import DEADLINE, assert_gen_error, wait_until

from gi.repository import Gen, GenTest, Gio, GLib


class PyCounter(Gen.Server):
    __gtype_name__ = 'PyCrossCounter'
    call_type = 's'

    def do_init(self, args):
        self.count = 0
        self.threads = set()
        self.casts = 0

    def do_handle_cast(self, message):
        self.casts += 1

    def do_handle_call(self, message):
        self.threads.add(threading.get_ident())
        action = message.unpack()
        if action == 'next':
            self.count += 1
            return GLib.Variant('i', self.count)
        if action == 'casts':
            return GLib.Variant('i', self.casts)
        if action == 'threads':
            return GLib.Variant('i', len(self.threads))
        raise ZeroDivisionError(f"cannot {action}")


@pytest.fixture
def py_server():
    server = PyCounter()
    server.start()
    yield server
    if server.is_running():
        server.stop(DEADLINE)


@pytest.fixture
def c_server():
    server = GenTest.Counter.new()
    server.start(GLib.Variant('i', 5))
    yield server
    if server.is_running():
        server.stop(DEADLINE)


# A C client, a Python server --------------------------------------------------

def test_c_threads_call_python_server(py_server):
    replies = GenTest.call_from_threads(py_server, GLib.Variant('s', 'next'),
                                        4, 50, int(DEADLINE * 1000))
    values = [item for item in replies.unpack()]
    # Every call answered exactly once: 1..200, each reply distinct.
    assert sorted(values) == list(range(1, 201))
    # One server thread handled them all.
    assert py_server.call('threads') == 1


def test_c_client_gets_python_exception(py_server):
    with pytest.raises(GLib.Error) as excinfo:
        GenTest.call_from_threads(py_server, GLib.Variant('s', 'explode'), 2, 1, 5000)
    error = assert_gen_error(excinfo, Gen.ServerError.FAILED)
    assert error.message == "ZeroDivisionError: cannot explode"
    assert py_server.is_running()


def test_c_client_message_type_checked_for_python_server(py_server):
    with pytest.raises(GLib.Error) as excinfo:
        GenTest.call_from_threads(py_server, GLib.Variant('i', 1), 1, 1, 5000)
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert error.message == 'PyCrossCounter expects call messages of type “s”, got “i”'


def test_c_thread_casts_to_python_server(py_server):
    assert GenTest.cast_from_thread(py_server, GLib.Variant('b', True), 100)
    assert py_server.call('casts') == 100


# A Python client, a C server -------------------------------------------------

def test_python_calls_c_server(c_server):
    assert c_server.get_cast_type() == '(si)'
    c_server.cast(('add', 2))  # packed with the C class's declared (si)
    assert c_server.call(('get', 0)) == 7
    assert c_server.call(('add', 3)) == 10


def test_c_server_refuses_wrong_type_from_python(c_server):
    with pytest.raises(GLib.Error) as excinfo:
        c_server.cast(('add', 'two'))
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert error.message == 'GenTestCounter expects cast messages of type “(si)”, got “(ss)”'


def test_c_server_handler_error_reaches_python(c_server):
    with pytest.raises(GLib.Error) as excinfo:
        c_server.call(('fail', 0))
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED)
    assert c_server.call(('get', 0)) == 5


def test_c_server_timeout_from_python(c_server):
    with pytest.raises(GLib.Error) as excinfo:
        c_server.call(('sleep', 300), timeout=0.02)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    # The late reply is dropped; the next call gets its own answer.
    assert c_server.call(('add', 1)) == 6


def test_c_server_crash_terminate_and_restart(c_server):
    c_server.cast(('crash', 0))
    with pytest.raises(GLib.Error) as excinfo:
        # Queued behind the crash: answered STOPPED, or NOT_RUNNING if the
        # crash had already closed the mailbox.
        c_server.call(('get', 0))
    assert excinfo.value.code in (int(Gen.ServerError.STOPPED), int(Gen.ServerError.NOT_RUNNING))
    # The queued call is answered just before terminate runs.
    wait_until(lambda: c_server.get_terminate_count() == 1, "terminate")
    assert not c_server.is_running()
    assert c_server.dup_terminate_reason() == "crashed on purpose"
    assert c_server.start(GLib.Variant('i', 1))
    assert c_server.call(('get', 0)) == 1
    assert c_server.stop()
    assert c_server.get_terminate_count() == 2
    assert c_server.dup_terminate_reason() is None
