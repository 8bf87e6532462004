# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gen.Statem subclassed in Python: events, actions, postponing, timeouts,
state enter calls, errors; links and request ids from Python."""

import asyncio
import os

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error

from gi.repository import Gen, GLib, Gio

Event = Gen.StatemEventType


class Machine(Gen.Statem):
    """Logs (state, event type, content); the content (a string) says what
    to do: "goto:X", "reply:X", "postpone-unless:X", "state-timeout:X",
    "next:X", "raise", "take", "answer:X", "stop", separated by spaces."""

    state_enter = True

    def do_init_state(self, args):
        self.log = Recorder()
        self.held = []
        return 'a'

    def do_handle_event(self, event_type, content, state):
        state = state.unpack()
        content = content.unpack() if content.get_type_string() == 's' else content.print_(False)
        self.log.add((state, event_type.value_nick, content))
        next_state = None
        for command in content.split(' '):
            verb, _, arg = command.partition(':')
            if verb == 'goto':
                next_state = arg
            elif verb == 'reply':
                self.reply(arg)
            elif verb == 'postpone-unless' and state != arg:
                self.postpone()
                break
            elif verb == 'state-timeout':
                self.set_state_timeout(0, arg)
            elif verb == 'next':
                self.next_event(Event.INTERNAL, arg)
            elif verb == 'raise':
                raise KeyError(arg)
            elif verb == 'take':
                self.held.append(self.take_reply())
            elif verb == 'stop':
                self.stop_and_reply()
            elif verb == 'answer':
                for reply in self.held:
                    self.reply(arg, reply)
                self.held.clear()
        return next_state


@pytest.fixture
def machine(servers):
    m = Machine()
    m.start()
    servers.append(m)
    return m


def test_events_and_enter_calls(machine):
    assert machine.call('reply:hi goto:b') == 'hi'
    assert machine.dup_state() == 'b'
    machine.cast('goto:c')
    machine.send_info('next:inserted goto:d')
    assert machine.call('reply:ok') == 'ok'
    assert machine.dup_state() == 'd'
    assert machine.log.events == [
        ('a', 'enter', 'a'),
        ('a', 'call', 'reply:hi goto:b'),
        ('b', 'enter', 'a'),
        ('b', 'cast', 'goto:c'),
        ('c', 'enter', 'b'),
        ('c', 'info', 'next:inserted goto:d'),
        ('d', 'enter', 'c'),
        ('d', 'internal', 'inserted'),
        ('d', 'call', 'reply:ok'),
    ]


def test_postponed_events_come_back_in_order(machine):
    machine.cast('postpone-unless:b p1')
    machine.cast('postpone-unless:b p2')
    machine.cast('goto:b')
    assert machine.call('reply:done') == 'done'
    seen = [entry for entry in machine.log.events if entry[1] != 'enter']
    assert seen == [
        ('a', 'cast', 'postpone-unless:b p1'),
        ('a', 'cast', 'postpone-unless:b p2'),
        ('a', 'cast', 'goto:b'),
        ('b', 'cast', 'postpone-unless:b p1'),
        ('b', 'cast', 'postpone-unless:b p2'),
        ('b', 'call', 'reply:done'),
    ]


def test_state_timeout(machine):
    machine.cast('state-timeout:goto:x')
    machine.log.wait_for(lambda events: ('a', 'state-timeout', 'goto:x') in events)
    assert machine.call('reply:sync') == 'sync'
    assert machine.dup_state() == 'x'


def test_exception_in_a_call_reaches_the_caller(machine):
    with pytest.raises(KeyError) as excinfo:  # the handler's own
        machine.call('goto:b raise:oops')
    assert excinfo.value.args == ('oops',)
    assert machine.dup_state() == 'a'
    assert machine.is_running()


def test_unanswered_call_fails_with_no_reply(machine):
    with pytest.raises(GLib.Error) as excinfo:
        machine.call('goto:b')
    assert_gen_error(excinfo, Gen.ServerError.NO_REPLY)


def test_taken_replies_answered_together(machine):
    first = machine.send_request('take')
    second = machine.send_request('take')
    machine.cast('answer:both')
    assert first.wait(DEADLINE) == 'both'
    assert second.wait(DEADLINE) == 'both'


def test_exception_in_a_cast_is_a_crash(machine):
    seen = []
    machine.monitor(lambda server, reason: seen.append(reason))
    machine.cast('raise:boom')
    context = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not seen and GLib.get_monotonic_time() < deadline:
        context.iteration(True)
    assert seen and 'boom' in seen[0].message


class Echo(Gen.Server):
    def do_init(self, args):
        self.trap = args is not None and args.unpack() == 'trap'
        self.set_trap_exit(self.trap)
        self.exits = Recorder()

    def do_handle_call(self, message):
        return message

    def do_handle_cast(self, message):
        if message.unpack() == 'crash':
            raise RuntimeError('crashed on purpose')

    def do_handle_info(self, message):
        ok, link_id = Gen.Server.is_exit_message(message)
        if ok:
            reason = Gen.Server.exit_message_dup_reason(message)
            self.exits.add((link_id, None if reason is None else reason.message))


def test_links_from_python(servers):
    trapper, a, b = Echo(), Echo(), Echo()
    trapper.start('trap')
    a.start()
    b.start()
    servers.extend([trapper, a, b])
    link_id = a.link(trapper)
    a.link(b)
    a.cast('crash')
    trapper.exits.wait_for(lambda exits: exits)
    assert trapper.exits.events[0][0] == link_id
    assert 'crashed on purpose' in trapper.exits.events[0][1]
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while b.is_running() and GLib.get_monotonic_time() < deadline:
        GLib.usleep(1000)
    assert not b.is_running()
    assert trapper.is_running()


def test_requests_gather(servers):
    echoes = [Echo() for _ in range(3)]
    for echo in echoes:
        echo.start()
        servers.append(echo)

    async def main():
        return await asyncio.gather(*(e.send_request(f'n{i}').areply(DEADLINE)
                                      for i, e in enumerate(echoes)))

    assert asyncio.run(main()) == ['n0', 'n1', 'n2']

    requests = Gen.RequestSet()
    for i, echo in enumerate(echoes):
        requests.send(echo, f'm{i}', f'label{i}')
    done = requests.wait_all(DEADLINE)
    assert [r.get_label() for r in done] == ['label0', 'label1', 'label2']
    assert [r.wait(0) for r in done] == ['m0', 'm1', 'm2']
    assert requests.get_size() == 0


@pytest.mark.skipif(os.environ.get('GEN_PYTHON_EXTENSION') != '1',
                    reason="without the C module a normal stop action is stop(0)")
def test_a_normal_stop_action_drops_the_rest_of_the_event(machine):
    """stop_and_reply() with no reason is the stop action of C: the event's
    other actions are dropped, the unanswered call gets STOPPED, and the
    run ends normally."""
    with pytest.raises(GLib.Error) as excinfo:
        machine.call('stop next:after')
    assert_gen_error(excinfo, Gen.ServerError.STOPPED)
    assert machine.join(DEADLINE) is None
    assert ('a', 'internal', 'after') not in machine.log.events
