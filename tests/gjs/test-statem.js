// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Gen.Statem subclassed in JavaScript, on this thread's main context:
// events, postponing, a state timeout, enter calls, a call's error.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gen from 'gi://Gen';

import {assert, assertEqual, assertGenError, assertThrows, run, test, waitFor}
    from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {StatemEventType} = Gen;
const typeNames = {
    [StatemEventType.CALL]: 'call',
    [StatemEventType.CAST]: 'cast',
    [StatemEventType.INFO]: 'info',
    [StatemEventType.STATE_TIMEOUT]: 'state_timeout',
    [StatemEventType.INTERNAL]: 'internal',
    [StatemEventType.ENTER]: 'enter',
};

// Every content is a string of commands: goto:X, reply:X, postpone-unless:X,
// state-timeout:X (fires at once with content X), next:X, throw.
const Machine = GObject.registerClass({
    GTypeName: 'JsMachine',
}, class Machine extends GenServer.Statem {
    static stateEnter = true;

    vfunc_init_state() {
        this.log = [];
        return new GLib.Variant('s', 'a');
    }

    vfunc_handle_event(type, content, state) {
        const here = state.unpack();
        const text = content.unpack();
        this.log.push(`${here}/${typeNames[type]}/${text}`);
        let next = null;
        for (const command of text.split(' ')) {
            const [verb, ...rest] = command.split(':');
            const arg = rest.join(':');
            if (verb === 'goto')
                next = new GLib.Variant('s', arg);
            else if (verb === 'reply')
                this.reply(null, new GLib.Variant('s', arg));
            else if (verb === 'postpone-unless' && here !== arg) {
                this.postpone();
                break;
            } else if (verb === 'state-timeout')
                this.set_state_timeout(0, new GLib.Variant('s', arg));
            else if (verb === 'next')
                this.next_event(StatemEventType.INTERNAL, new GLib.Variant('s', arg));
            else if (verb === 'throw')
                throw new Error('thrown on purpose');
        }
        return next;
    }
});

function started() {
    const machine = new Machine();
    machine.start(null);
    return machine;
}

test('events, inserted events and enter calls', async () => {
    const machine = started();
    assertEqual(await GenServer.call(machine, 'reply:hi goto:b'), 'hi');
    GenServer.cast(machine, 'next:x goto:c');
    assertEqual(await GenServer.call(machine, 'reply:ok'), 'ok');
    assertEqual(machine.dup_state().unpack(), 'c');
    assertEqual(machine.log, [
        'a/enter/a', 'a/call/reply:hi goto:b', 'b/enter/a',
        'b/cast/next:x goto:c', 'c/enter/b', 'c/internal/x', 'c/call/reply:ok',
    ]);
    machine.stop(-1);
});

test('a postponed call is answered after the state changes', async () => {
    const machine = started();
    const late = GenServer.call(machine, 'postpone-unless:b reply:late');
    GenServer.cast(machine, 'goto:b');
    assertEqual(await late, 'late');
    machine.stop(-1);
});

test('a state timeout arrives as an event', async () => {
    const machine = started();
    GenServer.cast(machine, 'state-timeout:goto:z');
    await waitFor(() => machine.dup_state().unpack() === 'z', 'the state timeout');
    assert(machine.log.includes('a/state_timeout/goto:z'), machine.log.join(','));
    machine.stop(-1);
});

test('an exception in a call reaches the caller; the machine goes on', async () => {
    const machine = started();
    const error = await assertThrows(() => GenServer.call(machine, 'goto:b throw'));
    assert(error.message.includes('thrown on purpose'), error.message);
    assertEqual(machine.dup_state().unpack(), 'a');
    assert(machine.is_running());
    const noReply = await assertThrows(() => GenServer.call(machine, 'goto:b'));
    assertGenError(noReply, Gen.ServerError.NO_REPLY);
    machine.stop(-1);
});

test('requests to many machines, awaited together', async () => {
    const machines = [started(), started(), started()];
    const requests = machines.map((m, i) => GenServer.sendRequest(m, `reply:r${i}`));
    assertEqual(await Promise.all(requests), ['r0', 'r1', 'r2']);
    for (const machine of machines)
        machine.stop(-1);
});

await run();
