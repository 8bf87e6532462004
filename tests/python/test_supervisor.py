# SPDX-License-Identifier: LGPL-2.1-or-later
"""Supervision from Python: a Gen.Server subclass defined in Python, started
and restarted by a C Gen.Supervisor through its GType; monitors, stop
reasons and the registry."""

import pytest
from conftest import Recorder, assert_gen_error, run_loop_until

from gi.repository import Gen, GLib, Gio


class Worker(Gen.Server):
    """Counts casts; crashes on "crash". Records inits and terminates in
    the class-wide recorder, since the supervisor creates the instances."""

    recorder = Recorder()

    def do_init(self, args):
        self.count = 0
        self.tag = args.unpack()
        Worker.recorder.add(('init', self.tag))

    def do_handle_cast(self, message):
        value = message.unpack()
        if value == 'crash':
            raise RuntimeError(f"{self.tag} crashed")
        if value == 'add':
            self.count += 1

    def do_handle_call(self, message):
        return GLib.Variant('(sx)', (type(self).__name__, self.count))

    def do_terminate(self, reason):
        Worker.recorder.add(('terminate', self.tag, None if reason is None else reason.message))


def watch(server):
    """Monitors server; returns a list that gets the reason."""
    seen = []
    server.monitor(lambda stopped, reason: seen.append(reason))
    return seen


def wait_stopped(seen):
    run_loop_until(lambda: seen)
    assert len(seen) == 1
    return seen[0]


@pytest.fixture
def supervisor():
    sup = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 60)
    yield sup
    if sup.is_running():
        sup.stop()


def test_python_child_is_restarted_through_its_gtype(supervisor):
    spec = Gen.ChildSpec.new('worker', Worker.__gtype__, GLib.Variant('s', 'w'))
    spec.set_name('py-worker')
    assert supervisor.start(Gen.Supervisor.build_args([spec]))

    first = supervisor.get_child('worker')
    assert isinstance(first, Worker)
    first.cast('add')
    assert first.call('get') == ('Worker', 1)

    seen = watch(first)
    first.cast('crash')
    reason = wait_stopped(seen)
    assert reason.message == "RuntimeError: w crashed"
    supervisor.which_children()

    second = supervisor.get_child('worker')
    assert isinstance(second, Worker)
    assert second is not first
    assert second.is_running() and not first.is_running()
    # Fresh state from do_init, and the name now points to it.
    assert second.call('get') == ('Worker', 0)
    registry = Gen.Registry.get_default()
    assert registry.lookup('py-worker') is second
    assert registry.call('py-worker', 'get') == ('Worker', 0)

    supervisor.stop()
    events = Worker.recorder.wait_for(lambda events: events.count(('terminate', 'w', None)) == 1)
    assert events[-4:] == [('init', 'w'), ('terminate', 'w', 'RuntimeError: w crashed'),
                           ('init', 'w'), ('terminate', 'w', None)]
    assert registry.lookup('py-worker') is None


def test_monitor_and_stop_reason():
    worker = Worker()
    assert worker.start(GLib.Variant('s', 'solo'))
    seen = watch(worker)
    reason = GLib.Error.new_literal(Gio.io_error_quark(), "going away", Gio.IOErrorEnum.CLOSED)
    assert worker.stop_with_reason(reason)
    stopped = wait_stopped(seen)
    assert stopped.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED)
    assert stopped.message == "going away"

    # Already stopped: told at once, through the main context.
    late = watch(worker)
    assert late == []
    assert wait_stopped(late).matches(Gen.server_error_quark(), Gen.ServerError.NOT_RUNNING)


def test_registry_by_name():
    registry = Gen.Registry.new()
    worker = Worker()
    assert worker.start(GLib.Variant('s', 'named'))
    registry.register('named', worker)
    with pytest.raises(GLib.Error) as excinfo:
        registry.register('named', worker)
    assert_gen_error(excinfo, Gen.ServerError.NAME_TAKEN)
    registry.cast('named', 'add')
    assert registry.call('named', 'get') == ('Worker', 1)
    worker.stop()
    assert registry.lookup('named') is None
    with pytest.raises(GLib.Error) as excinfo:
        registry.call('named', 'get')
    assert_gen_error(excinfo, Gen.ServerError.NOT_FOUND)


def test_supervisor_child_calls(supervisor):
    supervisor.start(None)
    supervisor.start_child(Gen.ChildSpec.new('w', Worker.__gtype__, GLib.Variant('s', 'w')))
    supervisor.start_child(Gen.ChildSpec.new('inner', Gen.Supervisor.__gtype__, None))
    first = supervisor.get_child('w')

    with pytest.raises(GLib.Error) as excinfo:
        supervisor.restart_child('w')
    assert_gen_error(excinfo, Gen.ServerError.ALREADY_RUNNING)

    assert supervisor.terminate_child('w')
    assert not first.is_running()
    assert supervisor.get_child('w') is None
    assert supervisor.get_child_spec('w').get_id() == 'w'
    counts = supervisor.count_children().unpack()
    assert counts == {'specs': 2, 'active': 1, 'supervisors': 1, 'workers': 1}
    assert supervisor.which_children_status().unpack() == [
        ('w', 'worker', 'stopped'), ('inner', 'supervisor', 'running')]

    assert supervisor.restart_child('w')
    assert supervisor.get_child('w').call('x') == ('Worker', 0)

    with pytest.raises(GLib.Error) as excinfo:
        supervisor.delete_child('w')
    assert_gen_error(excinfo, Gen.ServerError.ALREADY_RUNNING)
    assert supervisor.terminate_child('w')
    assert supervisor.delete_child('w')
    assert supervisor.get_child_spec('w') is None
    with pytest.raises(GLib.Error) as excinfo:
        supervisor.terminate_child('w')
    assert_gen_error(excinfo, Gen.ServerError.NOT_FOUND)
