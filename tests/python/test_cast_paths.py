# SPDX-License-Identifier: LGPL-2.1-or-later
"""Casts take a path in C when the override's C module is built: the
producer's ``cast`` packs and sends in C, and the handler is called
directly with a GLib.Variant whose getters read it in C. Each path must
behave exactly as the one through GObject Introspection: the same types,
the same errors, a full mailbox refused the same way, the same order."""

import inspect
import logging
import os
import sys
import threading
import typing
import weakref

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, wait_until

from gi.repository import Gen, GLib

from gi.overrides import Gen as override  # noqa: I100 (after gi.repository.Gen)

C_MODULE = os.environ.get('GEN_PYTHON_EXTENSION') == '1'
needs_c_module = pytest.mark.skipif(not C_MODULE, reason="built without the C module")

# The two ways a Python producer casts: Server.cast (in C with the module),
# and the override's Python version, through GI.
CASTS = {
    'cast': lambda server, message: server.cast(message),
    'through-gi': lambda server, message: override._cast_through_gi(server, message),
}


class Seen(Gen.Server):
    """Records what each cast handler sees, read with every accessor."""

    def do_init(self, args):
        self.recorder = Recorder()

    def do_handle_cast(self, message):
        self.recorder.add(read(message))

    def do_handle_call(self, message):
        return GLib.Variant('i', len(self.recorder.events))


class SeenThroughGI(Seen):
    """The same handler, through PyGObject's vfunc closure."""
    _gen_fast_cast = False


GETTERS = {
    'b': 'get_boolean', 'y': 'get_byte', 'n': 'get_int16', 'q': 'get_uint16',
    'i': 'get_int32', 'u': 'get_uint32', 'x': 'get_int64', 't': 'get_uint64',
    'h': 'get_handle', 'd': 'get_double', 's': 'get_string', 'o': 'get_string',
    'g': 'get_string',
}


def read(message):
    type_string = message.get_type_string()
    getter = GETTERS.get(type_string)
    value = getattr(message, getter)() if getter else None
    unpacked = message.unpack()
    return (isinstance(message, GLib.Variant), type_string, type(value), value,
            type(unpacked), unpacked, str(message), message == GLib.Variant(type_string, unpacked)
            if not type_string.startswith(('v', 'a{sv}', 'av')) else None)


MESSAGES = [
    (None, 7), (None, -2**63), (None, True), (None, 1.5), (None, 'text'), (None, ()),
    (None, ('add', 1, ('nested', 2.5, False))), (None, b'ab'), (None, {'k': 1}), (None, [1]),
    ('i', 7), ('i', -2**31), ('u', 2**32 - 1), ('y', 255), ('n', -5), ('q', 5),
    ('t', 2**64 - 1), ('x', 3), ('h', 1), ('d', 2), ('d', 0.25), ('b', False), ('s', 'é'),
    ('o', '/org/example'), ('g', 'a{sv}'), ('(si)', ('add', 1)), ('((ss)x)', (('a', 'b'), 1)),
    ('as', ['a']), ('a{sv}', {'k': 1}), ('mi', None), ('mi', 3), ('v', 1), ('ay', b'\x00b'),
    ('s', 'a\x00b'), ('(x*)', (1, 'x')),
]


def started(servers, cls, **kwargs):
    server = cls(**kwargs)
    server.start()
    servers.append(server)
    return server


@pytest.mark.parametrize('cast_type, value', MESSAGES)
def test_every_path_delivers_the_same_message(servers, cast_type, value):
    """What the handler reads, with every accessor, is the same whichever
    way the message was cast (a plain value, or the GLib.Variant the
    override packs it as) and the handler called."""
    seen = []
    for cls in (Seen, SeenThroughGI):
        server = started(servers, cls, cast_type=cast_type)
        for cast in CASTS.values():
            assert cast(server, value) is True
            assert cast(server, override._message(value, cast_type)) is True
        seen.append(server.recorder.wait_for(lambda events: len(events) == 4))
    assert all(event == seen[0][0] for events in seen for event in events), seen
    assert seen[0][0][0] is True  # a GLib.Variant


@pytest.mark.parametrize('path', CASTS)
@pytest.mark.parametrize('cast_type, value, error', [
    ('i', 2**31, OverflowError), ('y', -1, OverflowError), ('t', -1, OverflowError),
    (None, object(), TypeError), ('(si)', ('a', 1, 2), GLib.Error), ('i', True, GLib.Error),
    ('s', '\udcff', None),
])
def test_every_path_refuses_the_same_way(servers, path, cast_type, value, error):
    server = started(servers, Seen, cast_type=cast_type)
    with pytest.raises(Exception) as through_gi:
        override._cast_through_gi(server, value)
    with pytest.raises(Exception) as excinfo:
        CASTS[path](server, value)
    assert type(excinfo.value) is type(through_gi.value)
    assert str(excinfo.value) == str(through_gi.value)
    if error is not None:
        assert isinstance(excinfo.value, error)
    if isinstance(excinfo.value, GLib.Error):
        assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert server.call(0) == 0  # nothing was queued


@pytest.mark.parametrize('path', CASTS)
def test_a_stopped_server_refuses_casts(path):
    server = Seen()
    with pytest.raises(GLib.Error) as excinfo:
        CASTS[path](server, 1)
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
    server.start()
    server.stop()
    with pytest.raises(GLib.Error) as excinfo:
        CASTS[path](server, GLib.Variant('i', 1))
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)


class Gated(Gen.Server):
    def do_init(self, args):
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.seen = []

    def do_handle_cast(self, message):
        if message.unpack() == 'hold':
            self.holding.set()
            self.gate.wait(DEADLINE)
        self.seen.append(message.unpack())

    def do_handle_call(self, message):
        return GLib.Variant('av', [GLib.Variant('s', str(item)) for item in self.seen])


@pytest.mark.parametrize('path', CASTS)
def test_a_full_mailbox_refuses_the_same_way(servers, path):
    server = started(servers, Gated, mailbox_capacity=1)
    server.cast('hold')
    assert server.holding.wait(DEADLINE)
    CASTS[path](server, 'queued')
    errors = []
    for cast in (CASTS[path], override._cast_through_gi):
        for message in ('plain', GLib.Variant('s', 'variant'), {'not': 'packed in C'}):
            with pytest.raises(GLib.Error) as excinfo:
                cast(server, message)
            errors.append(assert_gen_error(excinfo, Gen.ServerError.MAILBOX_FULL).message)
    assert len(set(errors)) == 1, errors
    server.gate.set()
    wait_until(lambda: server.get_mailbox_length() == 0, "the mailbox to drain")
    assert server.call(0) == ['hold', 'queued']


@pytest.mark.parametrize('path', CASTS)
def test_a_blocking_mailbox_waits_for_room_without_the_gil(servers, path):
    """A cast into a full BLOCK mailbox waits, and lets the server's
    handler (which needs the GIL) make room."""
    server = started(servers, Gated, mailbox_capacity=1,
                     mailbox_policy=Gen.MailboxPolicy.BLOCK)
    server.cast('hold')
    assert server.holding.wait(DEADLINE)
    server.cast('queued')
    sent = threading.Event()

    def send():
        CASTS[path](server, 'waited')
        sent.set()

    sender = threading.Thread(target=send)
    sender.start()
    assert not sent.wait(0.05)  # it cannot be sent before the gate opens
    server.gate.set()
    sender.join(DEADLINE)
    assert sent.is_set()
    assert server.call(0) == ['hold', 'queued', 'waited']


def test_paths_keep_the_order_of_one_sender(servers):
    """Casts from one thread arrive in the order sent, whichever path each
    takes (C, C falling back to Python for a value it does not pack,
    through GI)."""
    server = started(servers, Gated)
    sent = []
    for i in range(300):
        message = [i, GLib.Variant('x', i), {'n': i}][i % 3]
        CASTS['cast' if i % 2 else 'through-gi'](server, message)
        sent.append(str(Gen.to_variant(message).unpack()))
    assert server.call(0) == sent


@needs_c_module
def test_cast_is_a_method_in_c_that_looks_like_the_python_one(servers):
    assert type(Gen.Server.cast).__name__ == 'CastMethod'
    python = Gen.Server.cast.__wrapped__
    assert inspect.isfunction(python) and python.__code__.co_filename == override.__file__
    assert (Gen.Server.cast.__name__, Gen.Server.cast.__doc__) == ('cast', python.__doc__)
    assert inspect.signature(Gen.Server.cast) == inspect.signature(python)
    assert typing.get_type_hints(Gen.Server.cast) == {'message': typing.Any, 'return': bool}
    server = started(servers, Gated)
    assert list(inspect.signature(server.cast).parameters) == ['message']
    assert server.cast(message='by keyword') is True
    assert Gen.Server.cast(server, 'unbound') is True
    bound = server.cast
    assert bound('bound') is True
    assert server.call(0) == ['by keyword', 'unbound', 'bound']
    for args, kwargs in [((), {}), ((1, 2), {}), ((), {'other': 1}), ((1,), {'message': 1})]:
        with pytest.raises(TypeError):
            server.cast(*args, **kwargs)
    with pytest.raises(TypeError):
        Gen.Server.cast(GLib.Variant('i', 1), 1)


class Frames(Gen.Server):
    def do_init(self, args):
        self.recorder = Recorder()

    def do_handle_cast(self, message):
        self.recorder.add((sys._getframe().f_back is None, type(message).__name__,
                           isinstance(message, GLib.Variant)))


@needs_c_module
def test_handlers_are_called_directly_once_the_thread_is_set_up(servers):
    """The first cast on a thread runs through the override's wrapper,
    which sets the thread up; the next ones call the handler from C, with
    no Python frame in between, and a message whose getters are in C."""
    server = started(servers, Frames)
    for i in range(3):
        server.cast(i)
    events = server.recorder.wait_for(lambda events: len(events) == 3)
    assert events[1:] == [(True, 'Message', True)] * 2, events


class CrashesOnThird(Gen.Server):
    def do_init(self, args):
        self.handled = 0

    def do_handle_cast(self, message):
        self.handled += 1
        if self.handled == 3:
            raise KeyError(message.unpack())


class ExitsOnThird(Gen.Server):
    def do_init(self, args):
        self.handled = 0

    def do_handle_cast(self, message):
        self.handled += 1
        if self.handled == 3:
            raise SystemExit(message.unpack())


@pytest.mark.parametrize('cls', [CrashesOnThird, ExitsOnThird])
def test_a_crash_after_the_first_cast_is_reported_as_by_the_wrapper(caplog, cls):
    """Past the first cast the wrapper is skipped: an exception still
    crashes the server with the same reason, cause and log record."""
    server = cls()
    server.start()
    with caplog.at_level(logging.DEBUG, logger=f"{__name__}.{cls.__qualname__}"):
        for i in range(4):
            try:
                server.cast(i)
            except GLib.Error:
                break  # stopped already
        reason = server.join(DEADLINE)
    assert reason.matches(Gen.server_error_quark(), Gen.ServerError.FAILED)
    records = [record for record in caplog.records
               if record.name == f"{__name__}.{cls.__qualname__}"]
    assert len(records) == 1, records
    record = records[0]
    assert record.funcName == 'do_handle_cast'
    assert record.exc_info[0] is (KeyError if cls is CrashesOnThird else SystemExit)
    if cls is CrashesOnThird:
        assert reason.message == 'KeyError: 2'
        assert isinstance(reason.__cause__, KeyError)
        assert record.levelno == logging.ERROR
        assert record.getMessage() == 'CrashesOnThird crashed in do_handle_cast: KeyError: 2'
    else:
        assert reason.message == 'SystemExit: 2'
        assert record.levelno == logging.DEBUG


class Keeper(Gen.Server):
    def do_init(self, args):
        self.kept = []

    def do_handle_cast(self, message):
        self.kept.append(message)

    def do_handle_call(self, message):
        return GLib.Variant('i', len(self.kept))


def test_a_kept_message_stays_valid(servers):
    server = started(servers, Keeper)
    for i in range(50):
        server.cast(('item', i))
    assert server.call(0) == 50
    server.stop()
    assert [message.unpack() for message in server.kept] == [('item', i) for i in range(50)]
    assert all(message.get_type_string() == '(sx)' for message in server.kept)
    del server.kept


class Marks(Gen.Server):
    """Stores on some messages, and holds weak references to others."""

    def do_init(self, args):
        self.before = []
        self.references = []

    def do_handle_cast(self, message):
        self.before.append(getattr(message, 'mark', None))
        value = message.unpack()
        if value % 4 == 1:
            message.mark = value
        elif value % 4 == 2:
            self.references.append((weakref.ref(message), value))

    def do_handle_call(self, message):
        return GLib.Variant('i', len(self.before))


def test_each_handler_gets_a_message_of_its_own(servers):
    """Messages may be reused once a handler is done with them, but never
    one that something still refers to, weakly, or that was stored on."""
    server = started(servers, Marks)
    for i in range(200):
        server.cast(i)
    assert server.call(0) == 200
    assert server.before == [None] * 200
    for reference, value in server.references:
        message = reference()
        assert message is None or message.unpack() == value


class Swapped(Gen.Server):
    def do_init(self, args):
        self.seen = []

    def do_handle_cast(self, message):
        self.seen.append(('first', message.unpack()))

    def do_handle_call(self, message):
        return GLib.Variant('i', len(self.seen))


@needs_c_module
def test_a_handler_replaced_on_the_class_is_the_one_called(servers):
    """Handlers are looked up again when their class changes. (Through
    PyGObject's closure, the one the class was made with stays.)"""
    server = started(servers, Swapped)
    server.cast(1)
    server.cast(2)
    assert server.call(0) == 2

    def replaced(self, message):
        self.seen.append(('replaced', message.unpack()))

    original = Swapped.__dict__['do_handle_cast']
    Swapped.do_handle_cast = replaced
    try:
        server.cast(3)
        assert server.call(0) == 3
    finally:
        Swapped.do_handle_cast = original
    server.cast(4)
    assert server.call(0) == 4
    assert server.seen == [('first', 1), ('first', 2), ('replaced', 3), ('first', 4)]
