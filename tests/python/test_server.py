# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gen.Server subclassed and driven from Python, through the override."""

import asyncio
import threading

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, run_loop_until, wait_event

from gi.repository import Gen, GLib, Gio


class Counter(Gen.Server):
    """Casts and calls are plain values: ("add", n), "get", and commands."""

    def do_init(self, args):
        self.count = 0 if args is None else args.unpack()
        self.thread = threading.get_ident()
        self.recorder = getattr(self, 'recorder', None) or Recorder()
        self.gate = threading.Event()
        self.recorder.add(('init', self.count))

    def do_handle_cast(self, message):
        value = message.unpack()
        self.recorder.add(('cast', value))
        if value[0] == 'add':
            self.count += value[1]
        elif value[0] == 'raise':
            raise RuntimeError(value[1])
        elif value[0] == 'block':
            wait_event(self.gate, "gate")

    def do_handle_call(self, message):
        value = message.unpack()
        self.recorder.add(('call', value))
        if value == 'get':
            return GLib.Variant('x', self.count)
        if value == 'thread':
            return GLib.Variant('t', self.thread)
        if value == 'plain':
            return {'count': self.count, 'name': 'counter', 'ok': True}
        if value == 'none':
            return None
        if value == 'block':
            wait_event(self.gate, "gate")
            return GLib.Variant('x', self.count)
        if value == 'self':
            try:
                self.call('get')
            except GLib.Error as error:
                return GLib.Variant('(si)', (GLib.quark_to_string(error.domain)
                                             if isinstance(error.domain, int) else error.domain,
                                             error.code))
            return GLib.Variant('(si)', ('no error', -1))
        if value == 'stop':
            return GLib.Variant('b', self.stop())
        if value == 'keyerror':
            return {}['missing']
        if value == 'bare':
            raise NotImplementedError
        if value == 'gerror':
            raise GLib.Error.new_literal(Gio.io_error_quark(), "permission denied here",
                                         Gio.IOErrorEnum.PERMISSION_DENIED)
        if isinstance(value, tuple) and value[0] == 'add':
            self.count += value[1]
            return GLib.Variant('x', self.count)
        raise ValueError(f"unknown request {value!r}")

    def do_terminate(self, reason):
        self.recorder.add(('terminate', None if reason is None else reason.message))


def start_counter(servers, args=None, **kwargs):
    server = Counter(**kwargs)
    server.recorder = Recorder()
    assert server.start(args)
    servers.append(server)
    return server


def terminates(events):
    return [event for event in events if event[0] == 'terminate']


# Start, stop, restart ------------------------------------------------------

def test_start_runs_init_on_its_own_thread_and_waits(servers):
    server = start_counter(servers, 40)
    # start returned only after init ran: its record is already there.
    assert server.recorder.events == [('init', 40)]
    assert server.is_running()
    assert server.call('thread') != threading.get_ident()
    assert server.stop()
    assert not server.is_running()
    assert terminates(server.recorder.events) == [('terminate', None)]


def test_restart_after_stop(servers):
    server = start_counter(servers, 1)
    server.cast(('add', 1))
    assert server.call('get') == 2
    assert server.stop()
    assert server.start(10)
    assert server.call('get') == 10
    assert server.stop()
    assert terminates(server.recorder.events) == [('terminate', None)] * 2


def test_double_start_and_double_stop(servers):
    server = start_counter(servers)
    with pytest.raises(GLib.Error) as excinfo:
        server.start()
    assert_gen_error(excinfo, Gen.ServerError.ALREADY_RUNNING)
    assert server.stop()
    with pytest.raises(GLib.Error) as excinfo:
        server.stop()
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)


def test_not_running_refuses_messages():
    server = Counter()
    with pytest.raises(GLib.Error) as excinfo:
        server.call('get')
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
    with pytest.raises(GLib.Error) as excinfo:
        server.cast(('add', 1))
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)


def test_init_exception_fails_start():
    class Failing(Gen.Server):
        def do_init(self, args):
            raise KeyError('no config')

    server = Failing()
    with pytest.raises(KeyError, match='no config'):
        server.start()
    assert not server.is_running()
    # C, and Python through the raw C API, get the error's text.
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Server.__base__.start(server, None)  # the C method
    error = assert_gen_error(excinfo, Gen.ServerError.FAILED)
    assert error.message == "KeyError: 'no config'"


def test_init_glib_error_keeps_domain_and_code():
    class Refusing(Gen.Server):
        def do_init(self, args):
            raise GLib.Error.new_literal(Gio.io_error_quark(), "nope",
                                         Gio.IOErrorEnum.PERMISSION_DENIED)

    with pytest.raises(GLib.Error) as excinfo:
        Refusing().start()
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED)
    assert excinfo.value.message == "nope"


# Cast and call -------------------------------------------------------------

def test_cast_and_call_with_plain_values(servers):
    server = start_counter(servers)
    for _ in range(3):
        assert server.cast(('add', 2))
    server.cast(('add', -1))
    assert server.call('get') == 5
    assert server.call(('add', 10)) == 15
    # Messages were wrapped with inferred types: (sx), s.
    casts = [event for event in server.recorder.events if event[0] == 'cast']
    assert casts[0] == ('cast', ('add', 2))


def test_variants_pass_through_and_unpack_false(servers):
    server = start_counter(servers)
    server.cast(GLib.Variant('(sx)', ('add', 7)))
    reply = server.call(GLib.Variant('s', 'get'), unpack=False)
    assert isinstance(reply, GLib.Variant)
    assert reply.get_type_string() == 'x'
    assert reply.unpack() == 7


def test_plain_reply_is_packed_by_inference(servers):
    server = start_counter(servers)
    server.cast(('add', 3))
    reply = server.call('plain', unpack=False)
    assert reply.get_type_string() == 'a{sv}'
    assert reply.unpack() == {'count': 3, 'name': 'counter', 'ok': True}


def test_reply_type_packs_plain_replies(servers):
    class Typed(Gen.Server):
        reply_type = '(iu)'

        def do_handle_call(self, message):
            return (-1, 2)

    server = Typed()
    server.start()
    servers.append(server)
    reply = server.call('anything', unpack=False)
    assert reply.get_type_string() == '(iu)'
    assert reply.unpack() == (-1, 2)


def test_none_reply_is_an_error(servers):
    server = start_counter(servers)
    with pytest.raises(GLib.Error) as excinfo:
        server.call('none')
    assert "returned neither a reply nor an error" in assert_gen_error(
        excinfo, Gen.ServerError.FAILED).message
    assert server.is_running()


def test_uninferable_message_raises_type_error(servers):
    server = start_counter(servers)
    with pytest.raises(TypeError):
        server.cast(object())
    with pytest.raises(TypeError):
        server.call({1: 'int keys'})


def test_per_sender_order(servers):
    server = start_counter(servers)
    for i in range(200):
        server.cast(('add', i))
    assert server.call('get') == sum(range(200))
    adds = [event[1][1] for event in server.recorder.events if event[0] == 'cast']
    assert adds == list(range(200))


def test_many_python_threads(servers):
    server = start_counter(servers)
    errors = []

    def client():
        try:
            for _ in range(100):
                server.call(('add', 1))
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not errors
    assert server.call('get') == 400


# Timeouts ------------------------------------------------------------------

def test_default_timeout_is_five_seconds():
    assert Gen.DEFAULT_TIMEOUT == 5.0
    assert Gen.SERVER_DEFAULT_TIMEOUT == 5000
    assert Gen.Server.call.__defaults__[0] == 5.0


def test_call_timeout_and_queued_call_never_runs(servers):
    server = start_counter(servers)
    server.cast(('block', 0))
    server.recorder.wait_for(lambda events: ('cast', ('block', 0)) in events)
    with pytest.raises(GLib.Error) as excinfo:
        server.call(('add', 100), timeout=0.05)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    server.gate.set()
    # The timed-out call was still queued: it never ran.
    assert server.call('get') == 0
    assert ('call', ('add', 100)) not in server.recorder.events


def test_negative_timeout_is_refused(servers):
    server = start_counter(servers)
    with pytest.raises(ValueError):
        server.call('get', timeout=-1)
    assert server.call('get', timeout=None) == 0


# Typed messages ------------------------------------------------------------

class TypedCounter(Gen.Server):
    __gtype_name__ = 'PyTypedCounter'
    cast_type = '(si)'
    call_type = '(s)'

    def do_init(self, args):
        self.count = 0
        self.seen = []

    def do_handle_cast(self, message):
        self.seen.append(message.get_type_string())
        self.count += message.unpack()[1]

    def do_handle_call(self, message):
        return GLib.Variant('(ias)', (self.count, self.seen))


def test_class_attributes_declare_types(servers):
    server = TypedCounter()
    servers.append(server)
    assert server.get_cast_type() == '(si)'
    assert server.get_call_type() == '(s)'
    assert server.props.cast_type == '(si)'
    server.start()
    server.cast(('add', 2))  # packed as (si), not the inferred (sx)
    assert server.call(('get',)) == (2, ['(si)'])


def test_constructor_overrides_class_types():
    server = TypedCounter(cast_type='(sx)')
    assert server.get_cast_type() == '(sx)'
    assert server.get_call_type() == '(s)'


def test_wrong_type_is_refused_in_the_caller(servers):
    server = TypedCounter()
    servers.append(server)
    server.start()
    with pytest.raises(GLib.Error) as excinfo:
        server.cast(('add', 'one'))
    error = assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    assert error.message == 'PyTypedCounter expects cast messages of type “(si)”, got “(ss)”'
    with pytest.raises(GLib.Error) as excinfo:
        server.call('get')  # s, not (s)
    assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    with pytest.raises(GLib.Error) as excinfo:
        server.cast(GLib.Variant('(sx)', ('add', 1)))
    assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    # The handler never saw any of them.
    assert server.call(('get',)) == (0, [])


def test_invalid_type_string_fails_start():
    class Broken(Gen.Server):
        cast_type = '(si'

    server = Broken()
    with pytest.raises(GLib.Error) as excinfo:
        server.start()
    assert_gen_error(excinfo, Gen.ServerError.INVALID_TYPE)


# Handler errors ------------------------------------------------------------

def test_call_exception_reaches_caller_and_server_goes_on(servers):
    server = start_counter(servers)
    with pytest.raises(KeyError, match='missing'):
        server.call('keyerror')
    with pytest.raises(ValueError, match="unknown request 'what'"):
        server.call('what')
    with pytest.raises(NotImplementedError):
        server.call('bare')
    assert server.is_running()
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Server.__base__.call(server, GLib.Variant('s', 'keyerror'), 5000)
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == "KeyError: 'missing'"
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Server.__base__.call(server, GLib.Variant('s', 'bare'), 5000)
    assert excinfo.value.message == "NotImplementedError"
    assert server.call(('add', 1)) == 1


def test_call_glib_error_keeps_domain_and_code(servers):
    server = start_counter(servers)
    with pytest.raises(GLib.Error) as excinfo:
        server.call('gerror')
    assert excinfo.value.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED)
    assert excinfo.value.message == "permission denied here"


def test_cast_exception_is_a_crash(servers):
    server = start_counter(servers)
    server.cast(('raise', 'out of cheese'))
    events = server.recorder.wait_for(lambda events: terminates(events))
    assert terminates(events) == [('terminate', 'RuntimeError: out of cheese')]
    assert not server.is_running()
    with pytest.raises(GLib.Error) as excinfo:
        server.call('get')
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
    # A crashed server can be started again.
    assert server.start(5)
    assert server.call('get') == 5


# Calling self and stopping from inside ---------------------------------------

def test_calling_self_fails_at_once(servers):
    server = start_counter(servers)
    domain, code = server.call('self')
    assert domain == 'gen-server-error-quark'
    assert code == int(Gen.ServerError.CALLING_SELF)


def test_stop_from_handler(servers):
    server = start_counter(servers)
    assert server.call('stop') is True
    server.recorder.wait_for(lambda events: terminates(events))
    with pytest.raises(GLib.Error) as excinfo:
        server.cast(('add', 1))
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)


def test_stop_handles_queued_messages_first(servers):
    server = start_counter(servers)
    server.cast(('block', 0))
    for _ in range(10):
        server.cast(('add', 1))
    server.gate.set()
    assert server.stop(DEADLINE)
    adds = [event for event in server.recorder.events if event == ('cast', ('add', 1))]
    assert len(adds) == 10
    assert server.recorder.events[-1] == ('terminate', None)


def test_stop_timeout(servers):
    server = start_counter(servers)
    server.cast(('block', 0))
    server.recorder.wait_for(lambda events: ('cast', ('block', 0)) in events)
    with pytest.raises(GLib.Error) as excinfo:
        server.stop(timeout=0.05)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    server.gate.set()
    server.recorder.wait_for(lambda events: terminates(events))


# Asynchronous calls ----------------------------------------------------------

def test_call_async_with_callback(servers):
    server = start_counter(servers, 41)
    results = []
    server.call_async(('add', 1), lambda reply, error: results.append((reply, error)))
    server.call_async('keyerror', lambda reply, error: results.append((reply, error)))
    # The callbacks run on this thread's main context, never inside call_async.
    assert results == []
    run_loop_until(lambda: len(results) == 2)
    assert results[0] == (42, None)
    reply, error = results[1]
    assert reply is None
    assert isinstance(error, KeyError) and error.args == ('missing',)


def test_call_async_timeout_and_cancel(servers):
    server = start_counter(servers)
    server.cast(('block', 0))
    results = []
    server.call_async('get', lambda reply, error: results.append(error), timeout=0.05)
    cancellable = Gio.Cancellable()
    server.call_async('get', lambda reply, error: results.append(error),
                      timeout=None, cancellable=cancellable)
    run_loop_until(lambda: len(results) == 1)
    assert results[0].code == int(Gen.ServerError.TIMEOUT)
    cancellable.cancel()
    run_loop_until(lambda: len(results) == 2)
    assert results[1].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)
    server.gate.set()
    assert server.call('get') == 0


def test_acall_with_asyncio(servers):
    server = start_counter(servers)

    async def main():
        replies = await asyncio.gather(*(server.acall(('add', 1)) for _ in range(20)))
        with pytest.raises(KeyError) as excinfo:
            await server.acall('keyerror')
        return sorted(replies), excinfo.value

    replies, error = asyncio.run(main())
    assert replies == list(range(1, 21))
    assert error.args == ('missing',)


# Subclassing -----------------------------------------------------------------

def test_subclass_of_a_server_inherits_handlers(servers):
    class Doubling(Counter):
        def do_handle_cast(self, message):
            action, amount = message.unpack()
            if action == 'add':
                self.count += 2 * amount
            else:
                raise NotImplementedError(action)

    server = Doubling()
    server.recorder = Recorder()
    server.start()
    servers.append(server)
    server.cast(('add', 3))
    assert server.call('get') == 6
    with pytest.raises(KeyError, match='missing'):
        server.call('keyerror')  # the parent's handler, still wrapped


# A Python server on a main context -------------------------------------------

def test_server_on_main_context(servers):
    context = GLib.MainContext.default()
    server = Counter(main_context=context)
    server.recorder = Recorder()
    server.start(1)
    servers.append(server)
    # Handlers run on whichever thread iterates the context: this one.
    with pytest.raises(GLib.Error) as excinfo:
        server.call('get')
    assert_gen_error(excinfo, Gen.ServerError.CALLING_SELF)
    server.cast(('add', 1))
    results = []
    server.call_async('thread', lambda reply, error: results.append((reply, error)))
    run_loop_until(lambda: results)
    assert results == [(threading.get_ident(), None)]
    # Another thread can call it synchronously while this one runs the loop.
    replies = []
    loop = GLib.MainLoop.new(context, False)

    def other_thread():
        replies.append(server.call('get', DEADLINE))
        GLib.idle_add(loop.quit)

    caller = threading.Thread(target=other_thread)
    # Started from inside loop.run(), which holds the context while it runs.
    GLib.idle_add(lambda: caller.start() and False)
    guard = GLib.timeout_add(int(DEADLINE * 1000), loop.quit)
    loop.run()
    GLib.source_remove(guard)
    caller.join(DEADLINE)
    assert replies == [2]
    assert server.stop()
    assert terminates(server.recorder.events) == [('terminate', None)]


def test_other_thread_may_call_before_the_loop_runs(servers):
    context = GLib.MainContext.default()
    server = Counter(main_context=context)
    server.recorder = Recorder()
    server.start(7)
    servers.append(server)
    outcome = []

    def other_thread():
        try:
            outcome.append(server.call('get', DEADLINE))
        except GLib.Error as error:
            outcome.append(error.message)

    caller = threading.Thread(target=other_thread)
    caller.start()
    # The loop starts only once the call is queued (or has failed at once).
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not outcome and server.get_mailbox_length() == 0:
        assert GLib.get_monotonic_time() < deadline
        caller.join(0.001)
    run_loop_until(lambda: outcome)
    caller.join(DEADLINE)
    assert outcome == [7]


# Info messages, timers, continues, deferred replies ---------------------------

class Otp(Gen.Server):
    """Records handle_info and handle_continue; defers calls on request."""

    def do_init(self, args):
        self.recorder = Recorder()
        self.pending = []
        if args is not None and args.unpack() == 'continue':
            self.continue_('after init')

    def do_handle_info(self, message):
        if Gen.Server.is_idle_timeout(message):
            self.recorder.add(('idle',))
            return
        value = message.unpack()
        self.recorder.add(('info', value))
        if value == 'explode':
            raise OSError("info went wrong")

    def do_handle_continue(self, message):
        value = message.unpack()
        self.recorder.add(('continue', value))
        if value == 'explode':
            raise LookupError("continue went wrong")

    def do_handle_cast(self, message):
        value = message.unpack()
        self.recorder.add(('cast', value))
        if value == 'split':
            self.continue_('first half')
            self.continue_('second half')
        elif value == 'explode later':
            self.continue_('explode')

    def do_handle_call(self, message):
        value = message.unpack()
        if value == 'defer':
            self.pending.append(self.take_reply())
            self.recorder.add(('deferred',))
            return None
        if value == 'drop':
            self.take_reply()  # dropped at once, unanswered
            return None
        if value == 'answer':
            reply = self.pending.pop(0)
            threading.Thread(target=reply.return_value, args=(('late', 42),)).start()
            return 'answering'
        return self.recorder.events[-1][0] if self.recorder.events else ''

    def do_terminate(self, reason):
        self.recorder.add(('terminate', None if reason is None else reason.message))


def start_otp(servers, args=None):
    server = Otp()
    server.start(args)
    servers.append(server)
    return server


def test_send_info_in_order_with_casts(servers):
    server = start_otp(servers)
    server.cast('one')
    assert server.send_info({'event': 'two'})
    server.cast('three')
    server.recorder.wait_for(lambda events: len(events) == 3)
    assert server.recorder.events == [('cast', 'one'), ('info', {'event': 'two'}),
                                      ('cast', 'three')]


def test_send_after_and_cancel_timer(servers):
    server = start_otp(servers)
    cancelled = server.send_after('never', 3600)
    assert cancelled > 0
    assert server.cancel_timer(cancelled)
    # Wide enough that 'first', set after them, still fires first on a
    # loaded machine.
    server.send_after('second', 0.5)
    server.send_after('third', 0.5)
    server.send_after('first', 0)
    events = server.recorder.wait_for(lambda events: len(events) >= 3)
    assert events == [('info', 'first'), ('info', 'second'), ('info', 'third')]
    with pytest.raises(ValueError):
        server.send_after('x', -1)


def test_info_exception_is_a_crash(servers):
    server = start_otp(servers)
    server.send_info('explode')
    events = server.recorder.wait_for(lambda events: events[-1:] and events[-1][0] == 'terminate')
    assert events[-1] == ('terminate', 'OSError: info went wrong')
    assert not server.is_running()


def test_continue_after_init_and_between_messages(servers):
    server = start_otp(servers, 'continue')
    server.cast('split')
    server.cast('next')
    events = server.recorder.wait_for(lambda events: len(events) == 5)
    assert events == [('continue', 'after init'), ('cast', 'split'),
                      ('continue', 'first half'), ('continue', 'second half'),
                      ('cast', 'next')]


def test_continue_exception_is_a_crash(servers):
    server = start_otp(servers)
    server.cast('explode later')
    events = server.recorder.wait_for(lambda events: events[-1:] and events[-1][0] == 'terminate')
    assert events == [('cast', 'explode later'), ('continue', 'explode'),
                      ('terminate', 'LookupError: continue went wrong')]
    assert not server.is_running()


def test_deferred_reply_answered_from_another_thread(servers):
    server = start_otp(servers)
    results = []
    caller = threading.Thread(target=lambda: results.append(server.call('defer', DEADLINE)))
    caller.start()
    server.recorder.wait_for(lambda events: ('deferred',) in events)
    # The server goes on with other calls while the deferred one waits.
    assert server.call('status') == 'deferred'
    assert server.call('answer') == 'answering'
    caller.join(DEADLINE)
    assert results == [('late', 42)]


def test_dropped_reply_is_no_reply(servers):
    server = start_otp(servers)
    with pytest.raises(GLib.Error) as excinfo:
        server.call('drop')
    assert_gen_error(excinfo, Gen.ServerError.NO_REPLY)
    assert server.is_running()


def test_idle_timeout(servers):
    server = start_otp(servers)
    server.set_idle_timeout(0.02)  # seconds, as every duration in Python
    server.cast('wake')
    events = server.recorder.wait_for(lambda events: ('idle',) in events)
    assert events[0] == ('cast', 'wake')
