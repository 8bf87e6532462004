# SPDX-License-Identifier: LGPL-2.1-or-later
"""Looking into a server from Python: get_status, do_format_status,
suspend and resume, the trace switch."""

import threading

import pytest
from conftest import DEADLINE, assert_gen_error, wait_until

from gi.repository import Gen, GLib


class Observed(Gen.Server):
    """A counter whose do_format_status tells its count and its thread."""

    def do_init(self, args):
        self.count = 0
        self.handler_threads = set()
        self.status_threads = []
        self.fail_status = False

    def do_handle_cast(self, message):
        self.handler_threads.add(threading.get_ident())
        self.count += message.unpack()

    def do_handle_call(self, message):
        self.handler_threads.add(threading.get_ident())
        if message.unpack() == 'status':
            # From a handler, format_status runs right here.
            return GLib.Variant('v', self.get_status())
        return GLib.Variant('x', self.count)

    def do_format_status(self):
        self.status_threads.append(threading.get_ident())
        if self.fail_status:
            raise RuntimeError("no status today")
        return GLib.Variant('(xs)', (self.count, 'counting'))


@pytest.fixture
def server():
    server = Observed()
    server.start()
    yield server
    if server.is_running():
        server.stop()


def test_stopped_server_has_no_state():
    server = Observed()
    status = server.get_status().unpack()
    assert status['status'] == 'stopped'
    assert status['casts'] == 0 and status['calls'] == 0 and status['infos'] == 0
    assert status['calls-timed-out'] == 0
    assert 'state' not in status
    assert 'started-at' not in status
    assert status['scheduler'] in ('thread', 'pool')


def test_status_and_format_status_on_the_handler_thread(server):
    before = GLib.get_monotonic_time()
    server.cast(GLib.Variant('x', 2))
    server.cast(GLib.Variant('x', 3))
    assert server.call('get') == 5

    status = server.get_status().unpack()
    assert status['status'] == 'running'
    assert status['casts'] == 2
    assert status['calls'] == 1
    assert status['mailbox-length'] == 0
    assert status['state'] == (5, 'counting')
    # The fixture started it before this test began.
    assert 0 < status['started-at'] <= before
    # Not on this thread: on the one that runs the handlers.
    assert threading.get_ident() not in server.status_threads
    if status['scheduler'] == 'thread':
        assert set(server.status_threads) <= server.handler_threads

    inside = server.call('status')
    assert inside['state'] == (5, 'counting')


def test_format_status_that_raises_leaves_state_out(server):
    server.fail_status = True
    status = server.get_status().unpack()
    assert status['status'] == 'running'
    assert 'state' not in status


def test_suspend_and_resume(server):
    server.suspend()
    for _ in range(3):
        server.cast(GLib.Variant('x', 1))
    # A server thread that took them in a batch before it saw the suspend
    # puts them back.
    wait_until(lambda: server.get_mailbox_length() == 3, "the casts queued")

    status = server.get_status().unpack()
    assert status['status'] == 'suspended'
    assert status['suspended'] is True
    assert status['casts'] == 0
    assert status['mailbox-length'] == 3
    # Answered while suspended, as OTP answers system messages.
    assert status['state'] == (0, 'counting')

    with pytest.raises(GLib.Error) as excinfo:
        server.call('get', timeout=0.02)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    assert server.get_status().unpack()['calls-timed-out'] == 1

    server.resume()
    assert server.call('get') == 3
    assert server.get_status().unpack()['status'] == 'running'


def test_stop_while_suspended_drops_the_queue(server):
    server.suspend()
    server.cast(GLib.Variant('x', 1))
    wait_until(lambda: server.get_mailbox_length() == 1, "the cast queued")
    server.stop()
    status = server.get_status().unpack()
    assert status['status'] == 'stopped'
    assert status['casts'] == 0
    assert status['suspended'] is False


def test_trace_switch(server):
    assert server.get_trace() is False
    server.set_trace(True)
    assert server.get_trace() is True
    assert server.get_status().unpack()['trace'] is True
    server.set_trace(False)
    assert server.get_status().unpack()['trace'] is False


def test_run_status_notifies_on_the_creating_context():
    from conftest import run_loop_until

    server = Observed()  # made here: the default context gets the notifications
    seen = []
    server.connect('notify::run-status',
                   lambda obj, _pspec: seen.append((obj.props.run_status, threading.get_ident())))
    assert server.get_run_status() == 'stopped'

    server.start()
    run_loop_until(lambda: seen and seen[-1][0] == 'running')
    server.suspend()
    run_loop_until(lambda: seen[-1][0] == 'suspended')
    server.resume()
    run_loop_until(lambda: seen[-1][0] == 'running')
    server.stop()
    run_loop_until(lambda: seen[-1][0] == 'stopped')
    assert {thread for _, thread in seen} == {threading.get_ident()}
