// SPDX-License-Identifier: LGPL-2.1-or-later
//
// What a GJS programmer expects of the helper: it is imported from the
// library with no path, handlers return plain values or promises, start()
// and stop() need no arguments, and a forgotten super._init() says so.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';
import GenTest from 'gi://GenTest';

import {DEADLINE_MS, assert, assertEqual, assertGenError, assertThrows, run, test, waitFor}
    from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {ServerError} = Gen;

// Calls: a plain JavaScript value to return, or a command.
const Plain = GObject.registerClass({
    GTypeName: 'JsPlain',
}, class Plain extends GenServer.Server {
    vfunc_init(args) {
        this.args = args;
        this.released = null;
    }

    vfunc_handle_cast(message) {
        if (message.recursiveUnpack() === 'release')
            this.released?.();
    }

    async vfunc_handle_call(message) {
        const request = message.recursiveUnpack();
        switch (request) {
        case 'args':
            return this.args === null ? 'none' : this.args.print(true);
        case 'wait':
            // Settles when a later cast says so: the server handles it,
            // and other calls, meanwhile.
            await new Promise(resolve => {
                this.released = resolve;
            });
            return 'released';
        case 'reject gerror':
            throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED, 'denied later');
        case 'reject range':
            throw new RangeError('out of range later');
        case 'nothing':
            return undefined;
        default:
            return request;
        }
    }
});

// Returns whatever it is asked to, synchronously, packed as int32.
const Typed = GObject.registerClass({
    GTypeName: 'JsTyped',
}, class Typed extends GenServer.Server {
    static replyType = 'i';

    vfunc_handle_call(message) {
        return message.recursiveUnpack();
    }
});

test('the helper is imported from the library, by no path', async () => {
    const uri = Gen.gjs_helper_uri();
    assertEqual(uri, 'resource:///io/github/genserver/gjs/genserver.js');
    // The same module, not a second copy.
    assert((await import(uri)) === GenServer, 'another instance of the module');
});

test('plain values returned by handle_call are packed as replyType', async () => {
    const server = new Typed();
    server.start();
    const reply = await GenServer.call(server, 41, DEADLINE_MS, {unpack: false});
    assertEqual(reply.get_type_string(), 'i');
    assertEqual(reply.unpack(), 41);
    server.stop();
});

test('without replyType, plain values are packed with the type they have', async () => {
    const server = new Plain();
    server.start();
    const types = [];
    for (const value of [7, 1.5, 'text', true, ['a', 2], {key: 'value'}]) {
        // eslint-disable-next-line no-await-in-loop
        const reply = await GenServer.call(server, value, DEADLINE_MS, {unpack: false});
        types.push(reply.get_type_string());
    }
    assertEqual(types, ['x', 'd', 's', 'b', '(sx)', 'a{sv}']);
    assertEqual(await GenServer.call(server, ['a', 2]), ['a', 2]);
    server.stop();
});

test('a reply of another type than replyType fails the call, naming both', async () => {
    const server = new Typed();
    server.start();
    const error = assertGenError(await assertThrows(() => GenServer.call(server, 'eleven')),
        ServerError.FAILED);
    assertEqual(error.message, 'JsTyped replies with type “i”, its vfunc_handle_call returned “s”');
    assert(server.is_running(), 'the server stopped');
    server.stop();
});

test('an async handler answers when its promise settles; the server goes on', async () => {
    const server = new Plain();
    server.start();
    const waiting = GenServer.call(server, 'wait');
    // Answered before the one still waiting.
    assertEqual(await GenServer.call(server, 'meanwhile'), 'meanwhile');
    GenServer.cast(server, 'release');
    assertEqual(await waiting, 'released');
    server.stop();
});

test('a rejected promise rejects the call', async () => {
    const server = new Plain();
    server.start();
    // A GLib.Error keeps its domain and code.
    const denied = await assertThrows(() => GenServer.call(server, 'reject gerror'));
    assert(denied.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED), `${denied}`);
    assertEqual(denied.message, 'denied later');
    // Any other exception is FAILED, with its class and message.
    const range = assertGenError(await assertThrows(() => GenServer.call(server, 'reject range')),
        ServerError.FAILED);
    assertEqual(range.message, 'RangeError: out of range later');
    // A promise that resolves to nothing is no reply.
    assertGenError(await assertThrows(() => GenServer.call(server, 'nothing')),
        ServerError.FAILED);
    assert(server.is_running(), 'the server stopped');
    server.stop();
});

Gio._promisify(GenTest, 'call_from_threads_async', 'call_from_threads_finish');

test('C threads get the replies of an async handler', async () => {
    const server = new Plain();
    server.start();
    const replies = await GenTest.call_from_threads_async(server,
        new GLib.Variant('s', 'from C'), 2, 5, DEADLINE_MS, null);
    assertEqual(replies.recursiveUnpack(), Array(10).fill('from C'));
    server.stop();
});

test('start() and stop() need no arguments; start packs a plain value', async () => {
    const server = new Plain();
    assert(server.start());
    assertEqual(await GenServer.call(server, 'args'), 'none');
    assert(server.stop());
    assert(server.start(40));
    assertEqual(await GenServer.call(server, 'args'), 'int64 40');
    assert(server.stop());
    // A C server too.
    const counter = GenTest.Counter.new();
    assert(counter.start());
    assert(counter.stop());
    assertEqual(counter.get_terminate_count(), 1);
});

test('an _init() that does not call super._init() fails at construction', async () => {
    const Forgetful = GObject.registerClass({
        GTypeName: 'JsForgetful',
    }, class Forgetful extends GenServer.Server {
        _init() {
            this.ready = true;
        }
    });
    const error = await assertThrows(() => new Forgetful());
    assertEqual(error.message,
        'Forgetful’s _init() did not call super._init(params): the server was never made');
    const ForgetfulMachine = GObject.registerClass({
        GTypeName: 'JsForgetfulMachine',
    }, class ForgetfulMachine extends GenServer.Statem {
        _init() {
        }
    });
    const machineError = await assertThrows(() => new ForgetfulMachine());
    assert(machineError.message.startsWith('ForgetfulMachine’s _init() did not call super._init'),
        machineError.message);
    // One that does is a server.
    const Careful = GObject.registerClass({
        GTypeName: 'JsCareful',
    }, class Careful extends GenServer.Server {
        _init(params) {
            super._init(params);
            this.ready = true;
        }

        vfunc_handle_call() {
            return this.ready;
        }
    });
    const careful = new Careful();
    careful.start();
    assertEqual(await GenServer.call(careful, 'ready?'), true);
    careful.stop();
    await waitFor(() => !careful.is_running(), 'stopped');
});

// Keeps its count as its state, for get_state and replace_state.
const Stateful = GObject.registerClass({
    GTypeName: 'JsStateful',
}, class Stateful extends GenServer.Server {
    vfunc_init(args) {
        this.count = 3;
    }

    vfunc_dump_state() {
        return new GLib.Variant('i', this.count);
    }

    vfunc_load_state(state) {
        this.count = state.unpack();
        return true;
    }
});

test('a replace_state function that throws: the caller gets it, the state is kept', () => {
    const server = new Stateful();
    server.start();
    assertEqual(server.replace_state(DEADLINE_MS, state => new GLib.Variant('i', state.unpack() + 1))
        .unpack(), 4);
    let thrown = null;
    try {
        server.replace_state(DEADLINE_MS, () => {
            throw new RangeError('no new state');
        });
    } catch (e) {
        thrown = e;
    }
    assert(thrown instanceof RangeError, `not the function's exception: ${thrown}`);
    assertEqual(thrown.message, 'no new state');
    assertEqual(server.get_state(DEADLINE_MS).unpack(), 4);
    server.stop();
});

await run();
