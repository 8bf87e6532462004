# SPDX-License-Identifier: LGPL-2.1-or-later
"""A server with a thread of its own keeps one Python thread state for its
run (PyGObject would make and destroy one per handler), and gives it back
when the run ends: nothing leaks, whatever way the run ends."""

import ctypes
import threading

import pytest
from conftest import DEADLINE, wait_until

from gi.repository import Gen, GLib
from gi.overrides.Gen import _genserver

_api = ctypes.pythonapi
_api.PyInterpreterState_Get.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.argtypes = (ctypes.c_void_p,)
_api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
_api.PyThreadState_Next.argtypes = (ctypes.c_void_p,)
_api.PyThreadState_Next.restype = ctypes.c_void_p


def thread_states():
    """How many Python thread states the interpreter has (read under the
    GIL, which every deletion of one holds)."""
    count = 0
    state = _api.PyInterpreterState_ThreadHead(_api.PyInterpreterState_Get())
    while state:
        count += 1
        state = _api.PyThreadState_Next(state)
    return count


class Worker(Gen.Server):
    def do_init(self, args):
        if args is not None and args.unpack() == 'fail':
            raise RuntimeError("init failed")
        if args is not None and args.unpack() == 'gerror':
            raise GLib.Error.new_literal(Gen.server_error_quark(), "refused",
                                         Gen.ServerError.FAILED)
        self.count = 0
        self.threads = set()

    def do_handle_cast(self, message):
        self.threads.add(threading.get_ident())
        if message.unpack() == 'crash':
            raise RuntimeError("crash")
        self.count += 1

    def do_handle_call(self, message):
        self.threads.add(threading.get_ident())
        return (self.count, len(self.threads))


class NoTerminate(Gen.Server):
    """Defines no do_terminate: the override gives it one."""

    def do_handle_call(self, message):
        return 'ok'


def test_one_thread_state_for_the_whole_run():
    baseline = thread_states()
    server = Worker()
    server.start()
    for _ in range(50):
        server.cast('work')
        assert thread_states() == baseline + 1
    assert server.call('count') == (50, 1)
    assert thread_states() == baseline + 1
    assert server.stop()
    assert thread_states() == baseline


@pytest.mark.parametrize('server_type', [Worker, NoTerminate])
def test_restarts_leak_no_thread_state(server_type):
    baseline = thread_states()
    server = server_type()
    for _ in range(20):
        server.start()
        server.call('x')
        assert server.stop()
    assert thread_states() == baseline


@pytest.mark.parametrize('args', ['fail', 'gerror'])
def test_failed_init_leaks_no_thread_state(args):
    baseline = thread_states()
    server = Worker()
    for _ in range(10):
        with pytest.raises(RuntimeError if args == 'fail' else GLib.Error):
            server.start(args)
    assert not server.is_running()
    wait_until(lambda: thread_states() == baseline, "thread states given back")


def test_crash_leaks_no_thread_state():
    baseline = thread_states()
    server = Worker()
    for _ in range(10):
        server.start()
        server.cast('crash')
        wait_until(lambda: not server.is_running(), "crash")
    wait_until(lambda: thread_states() == baseline, "thread states given back")


def test_main_context_handlers_hold_nothing_on_the_thread_they_run_on():
    """A Python-created thread iterating a context runs the handlers: it has
    its thread state already, and keeps no extra one once it is gone."""
    context = GLib.MainContext.new()
    loop = GLib.MainLoop.new(context, False)
    server = Worker(main_context=context)
    runner = threading.Thread(target=lambda: (context.push_thread_default(),
                                              loop.run(), context.pop_thread_default()))
    baseline = thread_states()
    runner.start()
    wait_until(loop.is_running, "the runner's loop")
    server.start()
    for _ in range(10):
        server.cast('work')
    assert server.call('count', DEADLINE) == (10, 1)
    assert runner.ident in server.threads
    assert server.stop()
    source = GLib.idle_source_new()
    source.set_callback(lambda *_: loop.quit() or False)
    source.attach(context)
    runner.join(DEADLINE)
    assert not runner.is_alive()
    wait_until(lambda: thread_states() == baseline, "the runner's thread state gone")


class Partner(Gen.Server):
    """Crashes on any cast: its links' servers get an exit signal."""

    def do_handle_cast(self, message):
        raise RuntimeError("partner crashed on purpose")


def run_status_is(server, status):
    return lambda: server.get_run_status() == status


@pytest.mark.parametrize('scheduler', ['own thread', 'pool'])
def test_killed_by_a_link_leaks_no_thread_state(scheduler):
    """A link's exit signal ends a run without do_terminate: the thread
    state held for it goes all the same, on the server's thread, before the
    run is seen over. And join() then gives the signal's reason."""
    baseline = thread_states()
    held = _genserver.held_thread_states() if _genserver is not None else 0
    for _ in range(10):
        partner = Partner()
        server = (Worker() if scheduler == 'own thread'
                  else Worker(scheduler=Gen.Scheduler.get_default()))
        partner.start()
        server.start()
        server.call('x')  # its thread state is set up
        partner.link(server)
        partner.cast('crash')
        wait_until(run_status_is(server, 'stopped'), "the server killed")
        wait_until(run_status_is(partner, 'stopped'), "the partner crashed")
        # A thread that drops a server's last C reference runs PyGObject's
        # toggle notification, in a thread state of its own for that moment:
        # wait for those, a leak stays.
        wait_until(lambda: thread_states() == baseline, "thread states given back")
        reason = server.join(0)
        assert isinstance(reason, GLib.Error)
        assert 'partner crashed on purpose' in reason.message
    if _genserver is not None:
        assert _genserver.held_thread_states() == held
