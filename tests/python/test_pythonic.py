# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the override promises beyond the C API: packing by natural form,
BaseException and odd exception text, checked replies, seconds everywhere,
the context manager, repr, asyncio and type hints."""

import asyncio
import logging
import os
import subprocess
import sys
import threading
import typing

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, wait_event

from gi.repository import Gen, GLib


class Actions(Gen.Server):
    """Takes (s) casts and calls, as the original README's counter."""
    __gtype_name__ = 'PyActions'
    cast_type = '(s)'
    call_type = '(s)'

    def do_init(self, args):
        self.recorder = Recorder()
        self.gate = threading.Event()

    def do_handle_cast(self, message):
        action, = message.unpack()
        self.recorder.add(('cast', action))
        raise_named(action)

    def do_handle_call(self, message):
        action, = message.unpack()
        self.recorder.add(('call', action))
        if action == 'block':
            wait_event(self.gate, "gate")
        raise_named(action)
        return GLib.Variant('s', action)

    def do_terminate(self, reason):
        self.recorder.add(('terminate', None if reason is None else reason.message))


def raise_named(action):
    if action == 'KeyboardInterrupt':
        raise KeyboardInterrupt
    if action == 'SystemExit':
        raise SystemExit(3)
    if action == 'BaseException':
        raise BaseException("base")
    if action == 'surrogate':
        raise ValueError("bad name b'\\xff' as str: \udcff")


def start_actions(servers, **kwargs):
    server = Actions(**kwargs)
    assert server.start()
    servers.append(server)
    return server


def terminated(server):
    events = server.recorder.wait_for(lambda events: events and events[-1][0] == 'terminate')
    return events[-1][1]


# Packing -----------------------------------------------------------------------

@pytest.mark.parametrize('value, inferred', [
    ({'action': 'inc'}, 'a{sv}'),  # not a tuple of its keys
    ('x', 's'),                    # not a tuple of its letters
    (['inc'], 'av'),               # a list is not a tuple
])
@pytest.mark.parametrize('send', ['cast', 'call'])
def test_value_not_of_the_declared_form_is_refused_in_the_caller(servers, value, inferred, send):
    server = start_actions(servers)
    with pytest.raises(GLib.Error) as excinfo:
        getattr(server, send)(value)
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert error.message == f'PyActions expects {send} messages of type “(s)”, got “{inferred}”'
    assert server.call(('seen',)) == 'seen'
    # The handler never saw the refused message.
    assert server.recorder.events == [('call', 'seen')]


def test_natural_forms_are_packed_as_the_declared_type(servers):
    class Echo(Gen.Server):
        def do_handle_call(self, message):
            return GLib.Variant('(sv)', (message.get_type_string(), message))

    cases = [
        ('i', 7, 7), ('d', 2, 2.0), ('b', True, True), ('y', 200, 200),
        ('(si)', ('add', 1), ('add', 1)), ('as', ['a', 'b'], ['a', 'b']),
        ('a{si}', {'a': 1}, {'a': 1}), ('a{sv}', {'a': 1, 'b': 'x'}, {'a': 1, 'b': 'x'}),
        ('ay', b'\x00\x01', [0, 1]), ('mi', None, None), ('mi', 4, 4),
        ('v', (1, 'x'), (1, 'x')), ('(sav)', ('l', [1, 'two']), ('l', [1, 'two'])),
    ]
    for type_string, value, unpacked in cases:
        typed = Echo(call_type=type_string)
        typed.start()
        servers.append(typed)
        assert typed.call(value) == (type_string, unpacked), type_string


@pytest.mark.parametrize('type_string, value', [
    ('i', True),         # bool is not an int here: inferred b
    ('i', 1.5),          # inferred d
    ('s', 1),            # inferred x
    ('(s)', 'x'),        # inferred s
    ('(si)', ('a',)),    # wrong length: inferred (s)
    ('a{si}', ['a']),    # inferred av
    ('as', ('a', 'b')),  # a tuple is not an array: inferred (ss)
])
def test_unnatural_forms_keep_their_inferred_type(servers, type_string, value):
    server = Gen.Server(call_type=type_string)
    servers.append(server)
    server.start()
    with pytest.raises(GLib.Error) as excinfo:
        server.call(value)
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert f'“{type_string}”, got “{Gen.to_variant(value).get_type_string()}”' in error.message


def test_to_variant_with_a_type_refuses_unnatural_values():
    assert Gen.to_variant(('a', 1), '(si)').get_type_string() == '(si)'
    with pytest.raises(TypeError):
        Gen.to_variant({'action': 'inc'}, '(s)')
    with pytest.raises(OverflowError):
        Gen.to_variant(300, 'y')


# Replies -------------------------------------------------------------------------

def test_reply_type_is_checked_for_variants_too(servers):
    class Typed(Gen.Server):
        __gtype_name__ = 'PyTypedReplies'
        reply_type = 'i'

        def do_handle_call(self, message):
            value = message.unpack()
            if value == 'variant':
                return GLib.Variant('s', 'not an int')
            if value == 'plain':
                return 'not an int either'
            return GLib.Variant('i', 1)

    server = Typed()
    server.start()
    servers.append(server)
    with pytest.raises(GLib.Error) as excinfo:
        server.call('variant')
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == \
        'PyTypedReplies replies with type “i”, its do_handle_call returned “s”'
    with pytest.raises(GLib.Error) as excinfo:
        server.call('plain')
    assert excinfo.value.message.endswith('returned “s”')
    assert server.call('ok') == 1


# Exceptions ----------------------------------------------------------------------

def test_lone_surrogates_in_exception_text_are_escaped(servers):
    server = start_actions(servers)
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Server.__base__.call(server, GLib.Variant('(s)', ('surrogate',)), 5000)  # as C sees it
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == \
        "ValueError: bad name b'\\xff' as str: \\udcff"
    with pytest.raises(ValueError) as excinfo:
        server.call(('surrogate',))
    assert str(excinfo.value) == "bad name b'\\xff' as str: \udcff"
    assert server.is_running()
    server.cast(('surrogate',))
    assert terminated(server) == "ValueError: bad name b'\\xff' as str: \\udcff"


@pytest.mark.parametrize('name, text', [
    ('KeyboardInterrupt', 'KeyboardInterrupt'),
    ('SystemExit', 'SystemExit: 3'),
    ('BaseException', 'BaseException: base'),
])
def test_base_exception_in_call_fails_the_call_and_ends_the_server(servers, name, text):
    server = start_actions(servers)
    server.cast(('first',))
    with pytest.raises(GLib.Error) as excinfo:
        server.call((name,))
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == text
    assert terminated(server) == text
    assert not server.is_running()
    with pytest.raises(GLib.Error) as excinfo:
        server.call(('after',))
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
    # Not wedged: it starts again and answers.
    assert server.start()
    assert server.call(('again',)) == 'again'


@pytest.mark.parametrize('name, text', [
    ('KeyboardInterrupt', 'KeyboardInterrupt'),
    ('SystemExit', 'SystemExit: 3'),
    ('BaseException', 'BaseException: base'),
])
def test_base_exception_in_cast_is_a_crash(servers, name, text):
    server = start_actions(servers)
    server.cast((name,))
    assert terminated(server) == text
    assert not server.is_running()
    assert server.start()
    assert server.call(('again',)) == 'again'


def test_base_exception_in_init_fails_start():
    class Exiting(Gen.Server):
        def do_init(self, args):
            raise SystemExit("no")

    server = Exiting()
    with pytest.raises(GLib.Error) as excinfo:
        server.start()
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == "SystemExit: no"
    assert not server.is_running()


def test_a_call_ending_the_server_is_a_crash_for_the_calls_behind_it(servers):
    server = start_actions(servers)
    server.call(('ready',))
    outcomes = {}

    def caller(action):
        try:
            outcomes[action] = server.call((action,), DEADLINE)
        except GLib.Error as error:
            outcomes[action] = error.code

    def queue(action, length):
        thread = threading.Thread(target=caller, args=(action,))
        thread.start()
        deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
        while server.get_mailbox_length() < length:
            assert GLib.get_monotonic_time() < deadline, f"{action} not queued"
            thread.join(0.001)
        return thread

    blocker = threading.Thread(target=caller, args=('block',))
    blocker.start()
    server.recorder.wait_for(lambda events: ('call', 'block') in events)
    threads = [blocker, queue('SystemExit', 1), queue('behind', 2)]
    server.gate.set()
    for thread in threads:
        thread.join(DEADLINE)
    # The running call finishes, the exiting one gets its error, and the one
    # queued behind it is answered as after any crash.
    assert outcomes == {'block': 'block', 'SystemExit': int(Gen.ServerError.FAILED),
                        'behind': int(Gen.ServerError.STOPPED)}
    assert terminated(server) == 'SystemExit: 3'
    assert ('call', 'behind') not in server.recorder.events


EXIT_PROGRAM = r'''
import gi
gi.require_version('Gen', '1')
from gi.repository import Gen, GLib

class Exiting(Gen.Server):
    def do_handle_call(self, message):
        raise SystemExit(message.unpack())
    def do_handle_cast(self, message):
        raise SystemExit(message.unpack())

servers = [Exiting(), Exiting(), Exiting()]  # the third stays running
for server in servers:
    server.start()
try:
    servers[0].call(1)
except GLib.Error as error:
    print(error.message)
servers[1].cast(2)
print('exiting', flush=True)
'''


def test_system_exit_in_a_server_never_exits_or_hangs_the_program():
    result = subprocess.run([sys.executable, '-c', EXIT_PROGRAM],
                            capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'SystemExit: 1\nexiting\n'
    assert 'Traceback' not in result.stderr, result.stderr


def test_terminate_exception_is_reported(servers, caplog):
    class Failing(Gen.Server):
        def do_terminate(self, reason):
            raise RuntimeError("cleanup failed")

    server = Failing()
    server.start()
    name = f'{__name__}.{Failing.__qualname__}'
    with caplog.at_level(logging.WARNING, logger=name):
        assert server.stop()
    records = [record for record in caplog.records if record.name == name]
    assert [record.getMessage() for record in records] == \
        [f'{Failing.__qualname__}.do_terminate raised RuntimeError: cleanup failed']
    assert records[0].exc_info[0] is RuntimeError
    # The stop itself went as usual, and the server can start again.
    assert not server.is_running()
    assert server.start()


# Durations -----------------------------------------------------------------------

def test_every_duration_is_in_seconds(servers):
    server = Gen.Server(idle_timeout=1.5)
    assert server.get_idle_timeout() == 1.5
    assert server.props.idle_timeout == 1500  # the C property keeps milliseconds
    server.set_idle_timeout(0.25)
    assert server.get_idle_timeout() == 0.25
    server.set_idle_timeout(None)
    assert server.get_idle_timeout() is None
    with pytest.raises(ValueError):
        server.set_idle_timeout(-1)
    supervisor = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 2.5)
    assert supervisor.get_period() == 2.5
    spec = Gen.ChildSpec.new('child', Gen.Server.__gtype__, None)
    spec.set_shutdown_timeout(0.5)
    assert spec.get_shutdown_timeout() == 0.5
    spec.set_shutdown_timeout(None)
    assert spec.get_shutdown_timeout() is None


def test_idle_timeout_fires_after_seconds(servers):
    class Idle(Gen.Server):
        def do_init(self, args):
            self.recorder = Recorder()

        def do_handle_info(self, message):
            self.recorder.add(Gen.Server.is_idle_timeout(message))

    server = Idle(idle_timeout=0.01)
    server.start()
    servers.append(server)
    # 10 ms, not 10 s: it comes well within the deadline.
    assert server.recorder.wait_for(lambda events: events) == [True]


# Context manager, repr -------------------------------------------------------------

def test_with_starts_and_stops():
    with Actions() as server:
        assert server.is_running()
        assert server.call(('inside',)) == 'inside'
        assert repr(server).startswith('<test_pythonic.Actions running at 0x')
    assert not server.is_running()
    assert server.recorder.events[-1] == ('terminate', None)
    assert repr(server).startswith('<test_pythonic.Actions stopped at 0x')
    assert repr(Gen.Server()).startswith('<Gen.Server stopped at 0x')


def test_with_a_server_that_stopped_inside_the_block():
    with Actions() as server:
        server.cast(('SystemExit',))
        assert terminated(server) == 'SystemExit: 3'
    assert not server.is_running()


def test_with_raises_through_and_stops():
    with pytest.raises(ZeroDivisionError):
        with Actions() as server:
            1 / 0
    assert not server.is_running()


# asyncio -------------------------------------------------------------------------

def test_acall_leaves_the_loop_running(servers):
    server = start_actions(servers)

    async def main():
        blocked = asyncio.ensure_future(server.acall(('block',)))
        # While the call waits on the gate, the loop runs other tasks: this
        # one opens the gate.
        ticks = 0
        while not server.recorder.events:
            await asyncio.sleep(0.001)
            ticks += 1
        server.gate.set()
        return await blocked, ticks

    reply, ticks = asyncio.run(main())
    assert reply == 'block'
    assert ticks >= 1


# Type hints ----------------------------------------------------------------------

def test_type_hints():
    hints = typing.get_type_hints(Gen.Server.call)
    assert hints['return'] is typing.Any
    assert hints['timeout'] == typing.Optional[float]
    assert Gen.Server.call.__defaults__ == (5.0,)
    assert typing.get_type_hints(Gen.Server.cast)['return'] is bool
    assert typing.get_type_hints(Gen.to_variant)['return'] is GLib.Variant


# The migration page -----------------------------------------------------------

def test_migration_page_program_runs():
    page = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                        'migrating-from-python-genserver.md')
    with open(page, encoding='utf-8') as file:
        text = file.read()
    program = text.split('```python\n', 1)[1].split('```', 1)[0]
    result = subprocess.run([sys.executable, '-c', program],
                            capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ('Current Count: 2\nIncremented Count: 3\n'
                             'Counter Server Stopped.\n')


# Casts packed in C --------------------------------------------------------------

class Seen(Gen.Server):
    def do_init(self, args):
        self.recorder = Recorder()

    def do_handle_cast(self, message):
        self.recorder.add((message.get_type_string(), message.unpack()))


@pytest.mark.parametrize('cast_type, value', [
    (None, 7), (None, -2**63), (None, True), (None, 1.5), (None, 'text'), (None, ()),
    (None, ('add', 1, ('nested', 2.5, False))), ('i', 7), ('i', -2**31), ('u', 2**32 - 1),
    ('y', 255), ('n', -5), ('q', 5), ('t', 2**64 - 1), ('x', 3), ('h', 1), ('d', 2),
    ('d', 0.25), ('b', False), ('s', 'é'), ('(si)', ('add', 1)), ('((ss)x)', (('a', 'b'), 1)),
    ('o', '/org/example'), ('as', ['a']), ('a{sv}', {'k': 1}), ('mi', None), ('v', 1),
    ('s', 'a\x00b'),
])
def test_cast_packs_as_call_does(servers, cast_type, value):
    """Casts pack plain values on a faster path (in C when the module is
    built): the handler sees exactly what Gen.to_variant() makes."""
    server = Seen(cast_type=cast_type)
    server.start()
    servers.append(server)
    server.cast(value)
    expected = Gen.to_variant(value, cast_type)
    assert server.recorder.wait_for(lambda events: events) == \
        [(expected.get_type_string(), expected.unpack())]


@pytest.mark.parametrize('cast_type, value', [
    ('i', 2**31), ('y', -1), ('u', -1), ('t', -1), ('x', 2**63),
])
def test_cast_out_of_range_raises_overflow(servers, cast_type, value):
    server = Seen(cast_type=cast_type)
    server.start()
    servers.append(server)
    with pytest.raises(OverflowError):
        server.cast(value)


@pytest.mark.parametrize('cast_type, value, inferred', [
    ('i', True, 'b'), ('i', 'x', 's'), ('(si)', ('a', 'b'), '(ss)'), ('(si)', ('a',), '(s)'),
    ('s', '\udcff', None),
])
def test_cast_refusals_match_the_python_path(servers, cast_type, value, inferred):
    server = Seen(cast_type=cast_type)
    server.start()
    servers.append(server)
    if inferred is None:
        # Not valid text for a GVariant string: whatever PyGObject says.
        with pytest.raises(Exception) as excinfo:
            Gen.to_variant(value, cast_type)
        with pytest.raises(excinfo.type):
            server.cast(value)
        return
    with pytest.raises(GLib.Error) as excinfo:
        server.cast(value)
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert error.message.endswith(f'“{cast_type}”, got “{inferred}”')


@pytest.mark.skipif(os.environ.get('GEN_PYTHON_EXTENSION') != '1',
                    reason="built without the C module (python3-dev missing)")
def test_the_c_module_is_used():
    from gi.overrides import Gen as override
    assert override._genserver is not None
    server = Seen()
    assert server._message_types()[2] is True


@pytest.mark.parametrize('reply', [
    GLib.Variant('b', True), GLib.Variant('y', 200), GLib.Variant('n', -3),
    GLib.Variant('q', 3), GLib.Variant('i', -2**31), GLib.Variant('u', 2**32 - 1),
    GLib.Variant('x', -2**63), GLib.Variant('t', 2**64 - 1), GLib.Variant('h', 2),
    GLib.Variant('d', 0.5), GLib.Variant('s', 'é'), GLib.Variant('o', '/a/b'),
    GLib.Variant('g', 'a{sv}'), GLib.Variant('()', ()), GLib.Variant('(sx(bd))', ('a', 1, (True, 2.0))),
    GLib.Variant('a{sv}', {'k': GLib.Variant('i', 1)}), GLib.Variant('(sas)', ('l', ['x'])),
    GLib.Variant('mi', None), GLib.Variant('v', GLib.Variant('s', 'inner')), GLib.Variant('ay', b'ab'),
])
def test_call_unpacks_as_variant_unpack_does(servers, reply):
    """Calls unpack replies on a faster path (in C when the module is
    built): the same values as GLib.Variant.unpack()."""
    class Replier(Gen.Server):
        def do_handle_call(self, message):
            return reply

    server = Replier()
    server.start()
    servers.append(server)
    unpacked = server.call(1)
    assert unpacked == reply.unpack()
    assert type(unpacked) is type(reply.unpack())
    assert server.call(GLib.Variant('s', 'as a variant')) == reply.unpack()
    assert server.call(1, unpack=False).equal(reply)
