# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every duration in the Python API is in seconds: a walk over every
public callable of the Gen typelib that takes or gives a duration checks
that the override stands in front of it, in seconds, and each is then
used with a fractional number of seconds.

A timeout never fires early, so "it waited at least this long" is a
check that cannot flake; a duration read as milliseconds waits 1,000
times less and fails it."""

import inspect
import re
import threading

import gi
import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, wait_event

from gi.repository import Gen, GLib

gi.require_version('GIRepository', '2.0')
from gi.repository import GIRepository  # noqa: E402

# Argument names that hold a duration in C.
DURATION_ARG = re.compile(r'(timeout|period|delay|interval)(_ms)?$|_ms$')
# Getters that give one.
DURATION_GETTER = re.compile(r'^get_.*(timeout|period|delay|interval)$')


def c_callables_with_durations():
    """(class name, method name) of every function of the Gen typelib
    taking or returning a duration."""
    repository = GIRepository.Repository.get_default()
    found = set()
    for index in range(repository.get_n_infos('Gen')):
        info = repository.get_info('Gen', index)
        kind = info.get_type()
        if kind == GIRepository.InfoType.OBJECT:
            methods = [GIRepository.object_info_get_method(info, i)
                       for i in range(GIRepository.object_info_get_n_methods(info))]
        elif kind in (GIRepository.InfoType.STRUCT, GIRepository.InfoType.BOXED):
            methods = [GIRepository.struct_info_get_method(info, i)
                       for i in range(GIRepository.struct_info_get_n_methods(info))]
        else:
            continue
        for method in methods:
            names = [GIRepository.callable_info_get_arg(method, i).get_name()
                     for i in range(GIRepository.callable_info_get_n_args(method))]
            if any(DURATION_ARG.search(name) for name in names) \
                    or DURATION_GETTER.match(method.get_name()):
                found.add((info.get_name(), method.get_name()))
    return found


def test_the_walk_finds_what_it_looks_for():
    found = c_callables_with_durations()
    assert {('Server', 'call'), ('Server', 'start_with_timeout'), ('Group', 'call'),
            ('Registry', 'call_matching'), ('Supervisor', 'new'),
            ('Server', 'get_idle_timeout')} <= found


@pytest.mark.parametrize('owner, name', sorted(c_callables_with_durations()))
def test_every_callable_with_a_duration_is_in_seconds(owner, name):
    member = inspect.getattr_static(getattr(Gen, owner), name)
    function = getattr(member, '__func__', member)
    # Not the typelib's function: the override's, in Python.
    assert inspect.isfunction(function), f"Gen.{owner}.{name} is the raw C function"
    parameters = inspect.signature(function).parameters
    assert not [p for p in parameters if p.endswith('_ms')], (owner, name, list(parameters))
    # And it is used, in seconds, below.
    assert (owner, name) in USED, f"Gen.{owner}.{name} has no check in this file"


# Properties whose name gives no unit (period-ms does): milliseconds in C.
DURATION_PROPERTY = re.compile(r'(timeout|time|period|delay|interval)$')


def properties_with_durations():
    """(class name, property name) of every GObject property of the Gen
    typelib holding a duration."""
    repository = GIRepository.Repository.get_default()
    found = set()
    for index in range(repository.get_n_infos('Gen')):
        info = repository.get_info('Gen', index)
        if info.get_type() != GIRepository.InfoType.OBJECT:
            continue
        for i in range(GIRepository.object_info_get_n_properties(info)):
            name = GIRepository.object_info_get_property(info, i).get_name()
            if DURATION_PROPERTY.search(name):
                found.add((info.get_name(), name.replace('-', '_')))
    return found


def test_the_property_walk_finds_what_it_looks_for():
    assert {('Server', 'idle_timeout'), ('Node', 'tick_time'), ('Node', 'handshake_timeout'),
            ('DBusListener', 'handshake_timeout')} <= properties_with_durations()


@pytest.fixture
def instance_of(tmp_path):
    """An object of each class with such a property."""
    made = []

    def make(owner):
        if owner == 'Server':
            made.append(Gen.Server())
        elif owner == 'Node':
            made.append(Gen.Node.new('durations'))
        elif owner == 'DBusListener':
            made.append(Gen.DBusListener.new(f'unix:path={tmp_path}/socket', None))
        else:
            pytest.fail(f"no Gen.{owner} in instance_of: add one")
        return made[-1]

    yield make
    for obj in made:
        if isinstance(obj, (Gen.Node, Gen.DBusListener)):
            obj.close()


@pytest.mark.parametrize('owner, name', sorted(properties_with_durations()))
def test_every_property_with_a_duration_has_accessors_in_seconds(owner, name, instance_of):
    obj = instance_of(owner)
    getter, setter = getattr(obj, 'get_' + name), getattr(obj, 'set_' + name)
    setter(0.25)
    assert getter() == 0.25
    assert obj.get_property(name) == 250  # props keep C's milliseconds
    # The constructor's keyword is in seconds too.
    assert getattr(Gen, owner)(**{name: 1.5}).get_property(name) == 1500


def test_durations_without_forever_refuse_none_and_zero(instance_of):
    node = instance_of('Node')
    for wrong in (None, 0, -1.0):
        with pytest.raises(ValueError):
            node.set_handshake_timeout(wrong)
        with pytest.raises(ValueError):
            Gen.Node(tick_time=wrong)
    assert node.get_handshake_timeout() == 5.0


# Each one, used with seconds ------------------------------------------------------

USED = set()


def uses(*names):
    def mark(test):
        USED.update(names)
        return test
    return mark


class Clock:
    def __enter__(self):
        self.started = GLib.get_monotonic_time()
        return self

    def __exit__(self, *exc_info):
        self.seconds = (GLib.get_monotonic_time() - self.started) / 1e6


class Slow(Gen.Server):
    """do_init waits for ``gate`` when args say so; ('block',) calls too."""
    call_type = '(s)'

    def do_init(self, args):
        if args is not None and args.unpack() == 'slow':
            wait_event(type(self).init_gate, "init gate")
        self.gate = threading.Event()
        self.recorder = Recorder()

    def do_handle_call(self, message):
        action, = message.unpack()
        self.recorder.add(action)
        if action == 'block':
            wait_event(self.gate, "gate")
        return action

    def do_handle_cast(self, message):
        self.recorder.add(message.unpack())
        wait_event(self.gate, "gate")


def blocked(servers, **kwargs):
    """A running Slow whose handler waits on its gate."""
    server = Slow(**kwargs)
    server.start()
    servers.append(server)
    threading.Thread(target=server.call, args=(('block',), DEADLINE), daemon=True).start()
    server.recorder.wait_for(lambda events: 'block' in events)
    return server


def assert_calls_time_out(server, message):
    """``call`` and ``call_async`` of ``message``, which waits, time out
    after 0.2 seconds, not before."""
    with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
        server.call(message, 0.2)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    assert clock.seconds >= 0.2
    errors = []
    server.call_async(message, lambda reply, error: errors.append(error), 0.2)
    context = GLib.MainContext.default()
    with Clock() as clock:
        while not errors:
            context.iteration(True)
    assert errors[0].code == int(Gen.ServerError.TIMEOUT)
    assert clock.seconds >= 0.2


@uses(('Server', 'start_with_timeout'))
def test_start_with_timeout(servers):
    Slow.init_gate = threading.Event()
    server = Slow()
    servers.append(server)
    with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
        server.start_with_timeout('slow', 0.2)
    Slow.init_gate.set()
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    assert clock.seconds >= 0.2


@uses(('Server', 'cast_with_timeout'))
def test_cast_with_timeout(servers):
    server = Slow(mailbox_capacity=1, mailbox_policy=Gen.MailboxPolicy.BLOCK)
    server.start()
    servers.append(server)
    server.cast('first')  # the handler waits on the gate with it
    server.recorder.wait_for(lambda events: 'first' in events)
    server.cast('second')  # fills the mailbox
    with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
        server.cast_with_timeout('third', 0.2)
    assert_gen_error(excinfo, Gen.ServerError.MAILBOX_FULL)
    assert clock.seconds >= 0.2
    server.gate.set()


@uses(('Server', 'call'), ('Server', 'call_async'), ('Server', 'stop'),
      ('Server', 'stop_with_reason'))
def test_call_and_stop(servers):
    server = blocked(servers)
    assert_calls_time_out(server, ('get',))
    server.gate.set()
    for stop in ('stop', 'stop_with_reason'):
        server = blocked(servers)
        with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
            if stop == 'stop':
                server.stop(0.2)
            else:
                server.stop_with_reason(None, 0.2)
        assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
        assert clock.seconds >= 0.2
        server.gate.set()


@uses(('Server', 'send_after'), ('Server', 'set_idle_timeout'),
      ('Server', 'get_idle_timeout'))
def test_timers(servers):
    class Timed(Gen.Server):
        def do_init(self, args):
            self.infos = Recorder()

        def do_handle_info(self, message):
            self.infos.add(GLib.get_monotonic_time())

    server = Timed()
    server.start()
    servers.append(server)
    started = GLib.get_monotonic_time()
    server.send_after('tick', 0.2)
    (fired,) = server.infos.wait_for(lambda events: len(events) == 1)
    assert (fired - started) / 1e6 >= 0.2
    server.set_idle_timeout(0.25)
    assert server.get_idle_timeout() == 0.25


def assert_multi_call_times_out(multi_call):
    """``multi_call(timeout)`` calls one blocked server: it waits the
    whole timeout, and its request comes back timed out."""
    with Clock() as clock:
        (request,) = multi_call(0.2)
    assert clock.seconds >= 0.2
    with pytest.raises(GLib.Error) as excinfo:
        request.wait(0)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)


@uses(('Server', 'get_state'), ('Server', 'replace_state'))
def test_get_and_replace_state(servers):
    server = blocked(servers)
    for request in (server.get_state, lambda timeout: server.replace_state(lambda s: s, timeout)):
        with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
            request(0.2)
        assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
        assert clock.seconds >= 0.2
    server.gate.set()


@uses(('Group', 'call'))
def test_group_call(servers):
    group = Gen.Group.new()
    server = blocked(servers)
    group.join('slow', server)
    assert_multi_call_times_out(lambda timeout: group.call('slow', ('get',), timeout))
    server.gate.set()
    assert group.cast('slow', 'plain') == 1  # packed, not a GLib.Variant


@uses(('Registry', 'call'), ('Registry', 'call_matching'))
def test_registry_calls(servers):
    registry = Gen.Registry.new()
    server = blocked(servers)
    registry.register('slow-1', server)
    assert_multi_call_times_out(
        lambda timeout: registry.call_matching('slow-*', ('get',), timeout))
    with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
        registry.call('slow-1', ('get',), 0.2)
    assert clock.seconds >= 0.2
    server.gate.set()
    assert registry.cast_matching('slow-*', 'plain') == 1


@uses(('Request', 'wait'), ('Request', 'receive'), ('Request', 'wait_async'),
      ('RequestSet', 'wait_any'), ('RequestSet', 'wait_all'), ('RequestSet', 'wait'),
      ('RequestSet', 'receive'))
def test_requests(servers):
    server = blocked(servers)
    request = server.send_request(('get',))
    errors = []
    with Clock() as clock:
        request.wait_async(lambda reply, error: errors.append(error), 0.2)
        context = GLib.MainContext.default()
        while not errors:
            context.iteration(True)
    assert errors[0].code == int(Gen.ServerError.TIMEOUT)
    assert clock.seconds >= 0.2
    for wait in (request.wait, request.receive):
        with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
            wait(0.2)
        assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
        assert clock.seconds >= 0.2
    requests = Gen.RequestSet.new()
    requests.send(server, ('get',), None)
    # receive last: its timeout abandons the request.
    for wait in (requests.wait_any, requests.wait_all, requests.wait, requests.receive):
        with Clock() as clock, pytest.raises(GLib.Error):
            wait(0.2)
        assert clock.seconds >= 0.2
    server.gate.set()


@uses(('Supervisor', 'new'), ('Supervisor', 'get_period'),
      ('ChildSpec', 'set_shutdown_timeout'), ('ChildSpec', 'get_shutdown_timeout'))
def test_supervision_durations():
    supervisor = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 2.5)
    assert supervisor.get_period() == 2.5
    spec = Gen.ChildSpec.new('child', Gen.Server.__gtype__, None)
    spec.set_shutdown_timeout(0.75)
    assert spec.get_shutdown_timeout() == 0.75


@uses(('Statem', 'set_state_timeout'), ('Statem', 'set_timeout'),
      ('Statem', 'set_event_timeout'))
def test_statem_timeouts(servers):
    class Timer(Gen.Statem):
        def do_init_state(self, args):
            self.events = Recorder()
            self.started = GLib.get_monotonic_time()
            # The event timeout first: any event cancels it.
            self.set_event_timeout(0.2, 'event')
            self.set_state_timeout(0.3, 'state')
            self.set_timeout('named', 0.3, 'named')
            return 'waiting'

        def do_handle_event(self, event_type, content, state):
            self.events.add((content.unpack(), GLib.get_monotonic_time() - self.started))
            return None

    machine = Timer()
    machine.start()
    servers.append(machine)
    events = machine.events.wait_for(lambda events: len(events) == 3)
    assert sorted(what for what, _ in events) == ['event', 'named', 'state']
    assert all(elapsed / 1e6 >= 0.2 for _, elapsed in events)


@uses(('Remote', 'call'), ('Remote', 'call_async'))
def test_remote_calls(tmp_path):
    from test_remote import OBJECT_PATH, spawn
    from gi.repository import Gio

    address = f'unix:path={tmp_path}/socket'
    process = spawn('--serve', address)
    try:
        connection = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
        remote = Gen.Remote.new_sync(connection, None, OBJECT_PATH, None)
        assert_calls_time_out(remote, ('block', 0))  # it waits at the service's gate
        connection.close_sync(None)
    finally:
        process.stdin.close()
        process.kill()
        process.wait()


@uses(('Server', 'export_with_limits'), ('Remote', 'cast_checked'))
def test_export_limits(servers, tmp_path):
    from gi.repository import Gio

    server = Slow()
    server.start()
    servers.append(server)
    address = f'unix:path={tmp_path}/socket'
    context = GLib.MainContext.new()
    loop = GLib.MainLoop.new(context, False)
    ready = threading.Event()
    connections = []

    def accept(listener, connection):
        connections.append(connection)
        return server.export_with_limits(connection, '/limits', 4096, 65536, 0.2)

    def serve():
        context.push_thread_default()
        listener = Gio.DBusServer.new_sync(address, Gio.DBusServerFlags.NONE,
                                           Gio.dbus_generate_guid(), None, None)
        listener.connect('new-connection', accept)
        listener.start()
        ready.set()
        loop.run()
        listener.stop()
        context.pop_thread_default()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wait_event(ready, "the listener")
    connection = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
    remote = Gen.Remote.new_sync(connection, None, '/limits', None)
    assert remote.cast_checked('cast', 0.5)
    # The caller would wait forever; the export allows 0.2 s.
    with Clock() as clock, pytest.raises(GLib.Error) as excinfo:
        remote.call(('block',), None)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    assert clock.seconds >= 0.2
    server.gate.set()
    connection.close_sync(None)
    loop.quit()
    thread.join(DEADLINE)
