# SPDX-License-Identifier: LGPL-2.1-or-later
"""The OTP layer's newer forms from Python, each named after the case of
Erlang/OTP's own suites that it ports."""

import threading
import time
import warnings

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, wait_event, wait_until

from gi.repository import Gen, GLib


class Ignoring(Gen.Server):
    """Answers Erlang's ignore from init, in the form args names."""

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        old_domain = Gen.Server.ignore_quark()  # deprecated since 1.2

    def do_init(self, args):
        if args.unpack() == 'ignored':
            raise GLib.Error.new_literal(Gen.server_error_quark(), 'not today',
                                         Gen.ServerError.IGNORED)
        # What code written for genserver 1.0 raises.
        raise GLib.Error.new_literal(Ignoring.old_domain, 'not today either', 0)


@pytest.mark.parametrize('form', ['ignored', '1.0-domain'])
def test_ignored_start_raises_ignored(form):
    # gen_server_SUITE start: init returning ignore.
    server = Ignoring()
    with pytest.raises(GLib.Error) as excinfo:
        server.start(GLib.Variant('s', form))
    assert_gen_error(excinfo, Gen.ServerError.IGNORED)
    assert Gen.Server.is_ignore(excinfo.value)
    assert not server.is_running()



class Worker(Gen.Server):
    """A child that only runs."""

    def do_handle_call(self, message):
        return message


def test_supervisor_simple_one_for_one_forms():
    # supervisor_SUITE count_simple_one_for_one, sofo_restart_child,
    # sofo_delete_child and terminate_child by pid.
    template = Gen.ChildSpec.new('w', Worker.__gtype__, None)
    supervisor = Gen.Supervisor(strategy=Gen.SupervisorStrategy.SIMPLE_ONE_FOR_ONE)
    supervisor.start(Gen.Supervisor.build_args([template]))
    try:
        assert supervisor.count_children().unpack()['specs'] == 1
        child_id = supervisor.start_child_with_args(None)
        counts = supervisor.count_children()
        assert counts.get_type_string() == 'a{su}'
        assert counts.unpack() == {'specs': 1, 'active': 1, 'supervisors': 0, 'workers': 1}

        for refused in (supervisor.restart_child, supervisor.delete_child):
            with pytest.raises(GLib.Error) as excinfo:
                refused(child_id)
            assert 'simple_one_for_one' in assert_gen_error(
                excinfo, Gen.ServerError.INVALID_MESSAGE).message

        child = supervisor.get_child(child_id)
        assert supervisor.terminate_child_server(child)
        assert not child.is_running()
        assert supervisor.dup_child_ids() == []
    finally:
        supervisor.stop()


def test_check_child_specs():
    # supervisor_SUITE check_childspecs.
    good = Gen.ChildSpec.new('a', Worker.__gtype__, None)
    assert Gen.Supervisor.check_child_specs([good])
    twin = Gen.ChildSpec.new('a', Worker.__gtype__, None)
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Supervisor.check_child_specs([good, twin])
    assert_gen_error(excinfo, Gen.ServerError.NAME_TAKEN)
    bad = Gen.ChildSpec.new('b', Worker.__gtype__, None)
    bad.add_property('no-such-property', GLib.Variant('i', 1))
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Supervisor.check_child_specs([bad])
    assert 'no-such-property' in assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE).message


class Machine(Gen.Statem):
    """Logs each event as (state, event type, content) and runs the
    commands its content names."""

    state_enter = True

    def do_init_state(self, args):
        self.log = []
        self.enters = 0
        return 'a'

    def do_handle_event(self, event_type, content, state):
        state = state.unpack()
        content = content.unpack()
        self.log.append((state, event_type.value_nick, content))
        if event_type == Gen.StatemEventType.ENTER:
            self.enters += 1
            if state == 'w' and self.enters < 4:
                self.repeat_state()
                self.set_event_timeout(0, 'et')
            return None
        if content == 'goto-w':
            return 'w'
        if content == 'zero':
            self.send_info('mine')
            self.set_event_timeout(0, 'z')
        if event_type == Gen.StatemEventType.CALL:
            self.reply(len(self.log))
        return None


def test_state_enter_repeat_state():
    # gen_statem_SUITE state_enter: repeat_state from an enter call runs it
    # again, with the same previous state; the counter climbs.
    machine = Machine()
    machine.start()
    try:
        machine.cast('goto-w')
        machine.call('sync')
        assert machine.enters == 4
        assert machine.log[:6] == [('a', 'enter', 'a'), ('a', 'cast', 'goto-w'),
                                   ('w', 'enter', 'a'), ('w', 'enter', 'a'),
                                   ('w', 'enter', 'a'), ('w', 'event-timeout', 'et')]
    finally:
        machine.stop()


def test_zero_event_timeout_before_external_events():
    # gen_statem_SUITE state_timeout: a zero timeout comes before a message
    # the same handler sent to the machine itself.
    machine = Machine()
    machine.start()
    try:
        machine.cast('zero')
        wait_until(lambda: ('a', 'info', 'mine') in machine.log, "the message to itself")
        assert machine.log[1:4] == [('a', 'cast', 'zero'), ('a', 'event-timeout', 'z'),
                                    ('a', 'info', 'mine')]
    finally:
        machine.stop()


class Door(Gen.Statem):
    """The state_functions callback mode: one method per state."""

    state_enter = True

    def do_init_state(self, args):
        self.seen = []
        return 'locked'

    def state_locked(self, event_type, content):
        self.seen.append(('locked', event_type.value_nick))
        if event_type == Gen.StatemEventType.CALL:
            self.reply('locked')
        elif event_type == Gen.StatemEventType.CAST:
            return content.unpack()
        return None

    def state_open(self, event_type, content):
        self.seen.append(('open', event_type.value_nick))
        if event_type == Gen.StatemEventType.CALL:
            self.reply('open')
        elif event_type == Gen.StatemEventType.CAST:
            return content.unpack()
        return None


def test_state_functions():
    # gen_statem_SUITE runs its cases in both callback modes.
    door = Door()
    door.start()
    try:
        assert door.call('?') == 'locked'
        door.cast('open')
        assert door.call('?') == 'open'
        assert door.seen == [('locked', 'enter'), ('locked', 'call'), ('locked', 'cast'),
                             ('open', 'enter'), ('open', 'call')]
        # Its enter call finds no state_nowhere: a crash, as in Erlang.
        door.cast('nowhere')
        wait_until(lambda: not door.is_running(), "the crash")
    finally:
        if door.is_running():
            door.stop()


class Actions(Gen.Statem):
    """Runs the action its call names, and reports events to a list."""

    def do_init_state(self, args):
        self.events = []
        self.held = None
        return 'idle'

    def do_handle_event(self, event_type, content, state):
        value = content.unpack()
        self.events.append((event_type.value_nick, value))
        if value == 'timeouts':
            self.set_timeout('u', 3600, 'old')
            self.set_event_timeout_at(time.monotonic() - 1, 'past')
        if event_type != Gen.StatemEventType.CALL:
            return None
        if value == 'take':
            self.held = self.take_reply()
        elif value == 'stop':
            self.reply('bye', self.held)
            self.reply('bye too')
            self.stop_and_reply()
        elif value == 'quit':
            self.stop_and_reply()  # the call itself unanswered
        elif value == 'all-types':
            self.next_event(Gen.StatemEventType.STATE_TIMEOUT, 's')
            self.next_event(Gen.StatemEventType.TIMEOUT, 'g', timeout_name='t')
            self.next_event(Gen.StatemEventType.CALL, 'answer')
        elif value == 'answer':
            self.reply('answered')
        elif value == 'update':
            self.update_timeout('u', 'new')
            self.cancel_timeout('u')  # the last action on a timeout counts
            self.reply('ok')
        return None


def test_stop_and_reply():
    # gen_statem_SUITE stop_and_reply.
    machine = Actions()
    machine.start()
    taken = machine.send_request('take')
    assert machine.call('stop') == 'bye too'
    assert taken.receive() == 'bye'
    wait_until(lambda: not machine.is_running(), "the stop")


def test_stop_and_reply_normal_is_the_action():
    # gen_statem_SUITE stop_and_reply, {stop, normal}: the normal stop is
    # the action itself, not a stop of the server: the call it leaves
    # unanswered gets STOPPED (not NO_REPLY), and the run ends normally.
    machine = Actions()
    machine.start()
    with pytest.raises(GLib.Error) as excinfo:
        machine.call('quit')
    assert_gen_error(excinfo, Gen.ServerError.STOPPED)
    assert machine.join(DEADLINE) is None


def test_next_event_of_every_type_and_timeout_actions():
    # gen_statem_SUITE event_types and timeout_cancel_and_update.
    machine = Actions()
    machine.start()
    try:
        assert machine.call('all-types') == 'answered'
        assert machine.events[1:] == [('state-timeout', 's'), ('timeout', 'g'), ('call', 'answer')]
        machine.events.clear()
        machine.cast('timeouts')
        wait_until(lambda: ('event-timeout', 'past') in machine.events, "the absolute timeout")
        assert machine.call('update') == 'ok'
        assert ('timeout', 'new') not in machine.events
    finally:
        machine.stop()


class Counter(Gen.Server):
    """Gives its state to sys-style callers through the documented hook,
    do_dump_state and do_load_state."""

    def do_init(self, args):
        self.count = 0

    def do_handle_cast(self, message):
        self.count += message.unpack()

    def do_handle_call(self, message):
        return GLib.Variant('x', self.count)

    def do_dump_state(self):
        return GLib.Variant('x', self.count)

    def do_load_state(self, state):
        self.count = state.unpack()
        return True


def test_get_and_replace_state():
    # gen_server_SUITE get_state and replace_state.
    counter = Counter()
    counter.start()
    try:
        counter.cast(3)
        assert counter.call('count') == 3
        assert counter.get_state().unpack() == 3
        new = counter.replace_state(lambda state: GLib.Variant('x', state.unpack() + 10))
        assert new.unpack() == 13
        assert counter.call('count') == 13
    finally:
        counter.stop()


def test_replace_state_function_that_raises():
    # sys:replace_state with a failing function: the caller gets the
    # failure, the state and the server are as they were.
    counter = Counter()
    counter.start()
    try:
        counter.cast(3)

        def fails(state):
            raise ValueError('no new state')

        with pytest.raises(ValueError, match='no new state'):
            counter.replace_state(fails)
        assert counter.get_state().unpack() == 3
        assert counter.call('count') == 3
    finally:
        counter.stop()


class Turnstile(Gen.Statem):
    def do_init_state(self, args):
        self.coins = 0
        return 'locked'

    def do_handle_event(self, event_type, content, state):
        if event_type == Gen.StatemEventType.CALL:
            self.reply(state.unpack())
        return None

    def do_dump_data(self):
        return GLib.Variant('i', self.coins)

    def do_load_data(self, data):
        self.coins = data.unpack()
        return True


def test_statem_get_and_replace_state():
    # gen_statem_SUITE get_state and replace_state: {State, Data}.
    turnstile = Turnstile()
    turnstile.start()
    try:
        assert turnstile.get_state().unpack() == ('locked', 0)
        turnstile.replace_state(
            lambda state: GLib.Variant('(vmv)', (GLib.Variant('s', 'open'), GLib.Variant('i', 2))))
        assert turnstile.call('?') == 'open'
        assert turnstile.coins == 2
    finally:
        turnstile.stop()


class Linked(Gen.Server):
    """Crashes on 'crash', waits for its gate on 'block', counts 'count';
    records whether do_terminate ran."""

    def do_init(self, args):
        self.gate = threading.Event()
        self.blocked = threading.Event()
        self.counted = 0
        self.terminated = False

    def do_handle_cast(self, message):
        what = message.unpack()
        if what == 'crash':
            raise RuntimeError('crashed on purpose')
        if what == 'block':
            self.blocked.set()
            wait_event(self.gate, "the gate")
        elif what == 'count':
            self.counted += 1

    def do_handle_call(self, message):
        return self.counted

    def do_terminate(self, reason):
        self.terminated = True


def test_link_exit_signal_ends_server_at_once(servers):
    # signal_SUITE xm_sig_order and kill2killed's link line: an exit signal
    # ends a server that does not trap exits once its handler returns; its
    # queue is not handled, a queued call raises STOPPED, do_terminate does
    # not run, and nothing sent after the signal gets in.
    a, b = Linked(), Linked()
    a.start()
    b.start()
    servers.extend([a, b])
    a.link(b)
    ended = Recorder()
    b.monitor(lambda server, reason: ended.add(reason), threaded=True)
    b.cast('block')
    wait_event(b.blocked, "b blocked")
    b.cast('count')
    queued = b.send_request('counted?')
    a.cast('crash')
    assert 'crashed on purpose' in a.join(DEADLINE).message
    with pytest.raises(GLib.Error) as excinfo:
        b.cast('count')
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
    b.gate.set()
    reason, = ended.wait_for(lambda reasons: reasons)
    assert 'crashed on purpose' in reason.message
    assert b.counted == 0
    assert not b.terminated
    with pytest.raises(GLib.Error) as excinfo:
        queued.wait(DEADLINE)
    assert_gen_error(excinfo, Gen.ServerError.STOPPED)


class Trapper(Gen.Server):
    """Traps exits; an abnormal exit message stops it with that reason."""

    def do_init(self, args):
        self.set_trap_exit(True)
        self.terminated_with = []

    def do_handle_info(self, message):
        ok, _link_id = Gen.Server.is_exit_message(message)
        if ok:
            reason = Gen.Server.exit_message_dup_reason(message)
            if reason is not None:
                self.stop_with_reason(reason, 0)

    def do_terminate(self, reason):
        self.terminated_with.append(reason)


def test_link_trapping_server_decides(servers):
    # gen_server_SUITE's servers that trap exits: the signal comes as a
    # message; a server that stops itself on it runs do_terminate with the
    # reason.
    a, trapper = Linked(), Trapper()
    a.start()
    trapper.start()
    servers.extend([a, trapper])
    a.link(trapper)
    a.cast('crash')
    reason = trapper.join(DEADLINE)
    assert 'crashed on purpose' in reason.message
    assert len(trapper.terminated_with) == 1
    assert 'crashed on purpose' in trapper.terminated_with[0].message


class Echoing(Gen.Server):
    """Answers at once, or holds 'hold' calls until the cast 'release'."""

    def do_init(self, args):
        self.held = []

    def do_handle_call(self, message):
        if message.unpack() == 'hold':
            self.held.append(self.take_reply())
            return None
        return message

    def do_handle_cast(self, message):
        for reply in self.held:
            reply.return_value(GLib.Variant('s', 'held'))
        self.held = []


def test_request_set_receive_wait_and_delete(servers):
    # gen_server_SUITE send_request_receive_reqid_collection and
    # send_request_wait_reqid_collection: replies in the order answered,
    # delete=False keeps the set's size, a receive that times out abandons
    # the rest.
    fast, slow = Echoing(), Echoing()
    fast.start()
    slow.start()
    servers.extend([fast, slow])

    requests = Gen.RequestSet()
    requests.send(slow, 'hold', 'req1')
    requests.send(fast, 'now', 'req2')
    first = requests.wait(DEADLINE, delete=False)
    assert first.get_label() == 'req2' and first.wait() == 'now'
    assert requests.get_size() == 2
    with pytest.raises(GLib.Error) as excinfo:
        requests.wait(0)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    slow.cast('release')
    second = requests.receive(DEADLINE, delete=False)
    assert second.get_label() == 'req1' and second.wait() == 'held'
    assert [r.get_label() for r in requests.requests()] == ['req1', 'req2']
    with pytest.raises(GLib.Error) as excinfo:
        requests.receive(DEADLINE)
    assert_gen_error(excinfo, Gen.ServerError.NOT_FOUND)

    abandoned = Gen.RequestSet()
    held = abandoned.send(slow, 'hold', 'held')
    with pytest.raises(GLib.Error) as excinfo:
        abandoned.receive(0)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    slow.cast('release')
    with pytest.raises(GLib.Error) as excinfo:
        abandoned.receive(DEADLINE)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)
    with pytest.raises(GLib.Error) as excinfo:
        held.wait(0)
    assert_gen_error(excinfo, Gen.ServerError.TIMEOUT)


def test_request_set_check(servers):
    # gen_server_SUITE send_request_check_reqid_collection.
    server = Echoing()
    server.start()
    servers.append(server)
    requests = Gen.RequestSet()
    requests.send(server, 'hold', 'req1')
    assert requests.check() is None
    server.cast('release')
    given = []
    wait_until(lambda: given.append(requests.check()) or given[-1] is not None, "the reply")
    assert given[-1].get_label() == 'req1'
    assert requests.get_size() == 0
