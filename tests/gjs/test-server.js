// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Gen.Server subclassed and driven from JavaScript (gjs -m), through the
// helper module; and JavaScript as a client of a server written in C.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';
import GenTest from 'gi://GenTest';

import {DEADLINE_MS, assert, assertEqual, assertGenError, assertThrows, run, test, waitFor}
    from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {ServerError} = Gen;

// Casts: ['add', n] | ['throw', message]; calls: 'get' | ['add', n] | commands.
const Counter = GObject.registerClass({
    GTypeName: 'JsCounter',
}, class Counter extends GenServer.Server {
    constructor(params) {
        super(params);
        this.events = [];
    }

    vfunc_init(args) {
        this.count = args === null ? 0 : args.recursiveUnpack();
        this.events.push(['init', this.count]);
        if (this.count < 0)
            throw new RangeError(`cannot start at ${this.count}`);
    }

    vfunc_handle_cast(message) {
        const [action, arg] = message.recursiveUnpack();
        this.events.push(['cast', action, arg]);
        if (action === 'add')
            this.count += arg;
        else if (action === 'throw')
            throw new Error(arg);
    }

    vfunc_handle_call(message) {
        const request = message.recursiveUnpack();
        this.events.push(['call', request]);
        if (request === 'get')
            return new GLib.Variant('x', this.count);
        if (Array.isArray(request) && request[0] === 'add')
            return new GLib.Variant('x', this.count += request[1]);
        if (request === 'typeerror')
            return null.property;
        if (request === 'gerror')
            throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED, 'denied here');
        if (request === 'self') {
            try {
                this.call(new GLib.Variant('s', 'get'), 1000);
            } catch (e) {
                return new GLib.Variant('(bi)', [e.matches(ServerError, e.code), e.code]);
            }
            return new GLib.Variant('(bi)', [false, -1]);
        }
        if (request === 'stop')
            return new GLib.Variant('b', this.stop(-1));
        throw new Error(`unknown request ${request}`);
    }

    vfunc_terminate(reason) {
        this.events.push(['terminate', reason === null ? null : reason.message]);
    }
});

const TypedCounter = GObject.registerClass({
    GTypeName: 'JsTypedCounter',
}, class TypedCounter extends GenServer.Server {
    static castType = '(si)';
    static callType = '(s)';

    vfunc_init() {
        this.count = 0;
        this.seen = [];
    }

    vfunc_handle_cast(message) {
        this.seen.push(message.get_type_string());
        this.count += message.recursiveUnpack()[1];
    }

    vfunc_handle_call() {
        return new GLib.Variant('(ias)', [this.count, this.seen]);
    }
});

function terminates(server) {
    return server.events.filter(event => event[0] === 'terminate');
}

// Start, stop, restart ---------------------------------------------------

test('start runs init and waits for it', () => {
    const server = new Counter();
    assert(server.start(new GLib.Variant('x', 40)));
    assertEqual(server.events, [['init', 40]]);
    assert(server.is_running());
    assert(server.stop(-1));
    assert(!server.is_running());
    assertEqual(terminates(server), [['terminate', null]]);
});

test('handlers run on this thread\'s main context', () => {
    const server = new Counter();
    assert(server.get_main_context() !== null, 'no main context');
    // The default context is this thread's: the server is GJS-safe.
    const context = GLib.MainContext.default();
    assert(context.is_owner() || context.acquire(), 'context owned elsewhere');
});

test('restart after stop', async () => {
    const server = new Counter();
    server.start(null);
    GenServer.cast(server, ['add', 2]);
    assertEqual(await GenServer.call(server, 'get'), 2);
    server.stop(-1);
    server.start(new GLib.Variant('x', 10));
    assertEqual(await GenServer.call(server, 'get'), 10);
    server.stop(-1);
    assertEqual(terminates(server), [['terminate', null], ['terminate', null]]);
});

test('double start and stop, and messages to a stopped server', async () => {
    const server = new Counter();
    assertGenError(await assertThrows(() => GenServer.cast(server, ['add', 1])),
        ServerError.NOT_RUNNING);
    assertGenError(await assertThrows(() => GenServer.call(server, 'get')),
        ServerError.NOT_RUNNING);
    server.start(null);
    assertGenError(await assertThrows(() => server.start(null)), ServerError.ALREADY_RUNNING);
    server.stop(-1);
    assertGenError(await assertThrows(() => server.stop(-1)), ServerError.NOT_RUNNING);
});

test('an exception in init fails start with its message', async () => {
    const server = new Counter();
    const error = await assertThrows(() => server.start(new GLib.Variant('x', -1)));
    assertEqual(error.message, 'cannot start at -1');
    assert(!server.is_running());
});

// Cast and call ------------------------------------------------------------

test('cast and call with plain values, replies unpacked', async () => {
    const server = new Counter();
    server.start(null);
    for (let i = 0; i < 3; i++)
        GenServer.cast(server, ['add', 2]);
    assertEqual(await GenServer.call(server, 'get'), 6);
    assertEqual(await GenServer.call(server, ['add', 4]), 10);
    const reply = await GenServer.call(server, 'get', GenServer.DEFAULT_TIMEOUT, {unpack: false});
    assertEqual(reply.get_type_string(), 'x');
    server.stop(-1);
});

test('the promisified call_async takes variants directly', async () => {
    const server = new Counter();
    server.start(null);
    const reply = await server.call_async(new GLib.Variant('(sx)', ['add', 5]), 1000, null);
    assertEqual(reply.deepUnpack(), 5);
    server.stop(-1);
});

test('per-sender order', async () => {
    const server = new Counter();
    server.start(null);
    for (let i = 0; i < 100; i++)
        GenServer.cast(server, ['add', i]);
    const replies = await Promise.all([1, 2, 3].map(() => GenServer.call(server, ['add', 0])));
    assertEqual(replies, [4950, 4950, 4950]);
    const adds = server.events.filter(e => e[0] === 'cast').map(e => e[2]);
    assertEqual(adds, [...Array(100).keys()]);
    server.stop(-1);
});

test('the default timeout is 5000 ms', () => {
    assertEqual(GenServer.DEFAULT_TIMEOUT, 5000);
    assertEqual(Gen.SERVER_DEFAULT_TIMEOUT, 5000);
});

test('a synchronous call from the server\'s own thread is CALLING_SELF', async () => {
    const server = new Counter();
    server.start(null);
    assertGenError(await assertThrows(() => server.call(new GLib.Variant('s', 'get'), 1000)),
        ServerError.CALLING_SELF);
    assertGenError(await assertThrows(() => GenServer.callSync(server, 'get')),
        ServerError.CALLING_SELF);
    // And from inside a handler.
    assertEqual(await GenServer.call(server, 'self'), [true, ServerError.CALLING_SELF]);
    server.stop(-1);
});

test('a call that timed out while queued never runs', async () => {
    // A server on a context nobody iterates yet: its mailbox just fills.
    const context = new GLib.MainContext();
    const server = new Counter({main_context: context});
    server.start(null);
    assertGenError(await assertThrows(() => GenServer.call(server, ['add', 100], 50)),
        ServerError.TIMEOUT);
    GenServer.cast(server, ['add', 1]);
    while (context.iteration(false))
        ;
    assertEqual(server.events.filter(e => e[0] !== 'init'), [['cast', 'add', 1]]);
    server.stop(-1);
});

test('a cancelled call fails and never runs', async () => {
    const context = new GLib.MainContext();
    const server = new Counter({main_context: context});
    server.start(null);
    const cancellable = new Gio.Cancellable();
    const pending = assertThrows(() => GenServer.call(server, ['add', 100], -1, {cancellable}));
    cancellable.cancel();
    const error = await pending;
    assert(error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), error.message);
    while (context.iteration(false))
        ;
    assertEqual(server.events.filter(e => e[0] !== 'init'), []);
    server.stop(-1);
});

// Typed messages -------------------------------------------------------------

test('static castType and callType declare the message types', async () => {
    const server = new TypedCounter();
    assertEqual(server.get_cast_type(), '(si)');
    assertEqual(server.get_call_type(), '(s)');
    assertEqual(new TypedCounter({cast_type: '(sx)'}).get_cast_type(), '(sx)');
    server.start(null);
    GenServer.cast(server, ['add', 2]);
    assertEqual(await GenServer.call(server, ['get']), [2, ['(si)']]);
    server.stop(-1);
});

test('a message of the wrong type is refused in the caller', async () => {
    const server = new TypedCounter();
    server.start(null);
    // GJS would pack this as ('add', 0) silently; the helper does not.
    let error = assertGenError(await assertThrows(() => GenServer.cast(server, ['add', 'one'])),
        ServerError.INVALID_MESSAGE);
    assertEqual(error.message, 'JsTypedCounter expects cast messages of type “(si)”, got “(ss)”');
    error = assertGenError(await assertThrows(() => GenServer.cast(server, ['add', 1.5])),
        ServerError.INVALID_MESSAGE);
    assertEqual(error.message, 'JsTypedCounter expects cast messages of type “(si)”, got “(sd)”');
    assertGenError(await assertThrows(() => GenServer.call(server, 'get')),
        ServerError.INVALID_MESSAGE);
    assertGenError(await assertThrows(() => server.cast(new GLib.Variant('(sx)', ['add', 1]))),
        ServerError.INVALID_MESSAGE);
    // The handler never saw any of them.
    assertEqual(await GenServer.call(server, ['get']), [0, []]);
    server.stop(-1);
});

test('an invalid type string fails start', async () => {
    const server = new Counter({cast_type: '(si'});
    assertGenError(await assertThrows(() => server.start(null)), ServerError.INVALID_TYPE);
});

// Handler errors ------------------------------------------------------------

test('an exception in handle_call rejects the call; the server goes on', async () => {
    const server = new Counter();
    server.start(null);
    let error = await assertThrows(() => GenServer.call(server, 'typeerror'));
    assert(error.message.includes('null'), error.message);
    error = await assertThrows(() => GenServer.call(server, 'bogus'));
    assertEqual(error.message, 'unknown request bogus');
    // It crossed C in GJS's own error domain, which GJS turns back into a
    // JavaScript Error rather than a GLib.Error.
    assert(!(error instanceof GLib.Error), `${error}`);
    assert(server.is_running());
    assertEqual(await GenServer.call(server, ['add', 1]), 1);
    server.stop(-1);
});

test('a GLib.Error thrown in handle_call keeps its domain and code', async () => {
    const server = new Counter();
    server.start(null);
    const error = await assertThrows(() => GenServer.call(server, 'gerror'));
    assert(error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED), `${error}`);
    assertEqual(error.message, 'denied here');
    server.stop(-1);
});

test('an exception in handle_cast is a crash', async () => {
    const server = new Counter();
    server.start(null);
    GenServer.cast(server, ['throw', 'out of cheese']);
    // Handled from the start: the rejection comes before we look at it.
    const pending = assertThrows(() => GenServer.call(server, 'get'));
    await waitFor(() => terminates(server).length > 0, 'terminate');
    assertEqual(terminates(server), [['terminate', 'out of cheese']]);
    assert(!server.is_running());
    assertGenError(await pending, ServerError.STOPPED);
    server.start(new GLib.Variant('x', 5));
    assertEqual(await GenServer.call(server, 'get'), 5);
    server.stop(-1);
});

test('stop from inside a handler', async () => {
    const server = new Counter();
    server.start(null);
    assertEqual(await GenServer.call(server, 'stop'), true);
    await waitFor(() => terminates(server).length > 0, 'terminate');
    assertGenError(await assertThrows(() => GenServer.cast(server, ['add', 1])),
        ServerError.NOT_RUNNING);
});

test('stop handles queued messages first', async () => {
    const server = new Counter();
    server.start(null);
    for (let i = 0; i < 10; i++)
        GenServer.cast(server, ['add', 1]);
    const pending = GenServer.call(server, 'get');
    server.stop(-1);
    assertEqual(server.count, 10);
    assertEqual(await pending, 10);
    assertEqual(server.events.at(-1), ['terminate', null]);
});

// Info messages, timers, continues, deferred replies ------------------------

const Otp = GObject.registerClass({
    GTypeName: 'JsOtp',
}, class Otp extends GenServer.Server {
    vfunc_init() {
        this.events = [];
        this.pending = [];
    }

    vfunc_handle_info(message) {
        if (Gen.Server.is_idle_timeout(message)) {
            this.events.push(['idle']);
            return;
        }
        this.events.push(['info', message.recursiveUnpack()]);
    }

    vfunc_handle_continue(message) {
        const value = message.recursiveUnpack();
        this.events.push(['continue', value]);
        if (value === 'explode')
            throw new RangeError('continue went wrong');
    }

    vfunc_handle_cast(message) {
        const value = message.recursiveUnpack();
        this.events.push(['cast', value]);
        if (value === 'split') {
            this.continue(new GLib.Variant('s', 'first half'));
            this.continue(new GLib.Variant('s', 'second half'));
        } else if (value === 'explode later') {
            this.continue(new GLib.Variant('s', 'explode'));
        }
    }

    vfunc_handle_call(message) {
        const value = message.recursiveUnpack();
        if (value === 'defer') {
            const reply = this.take_reply();
            // Answered later, from a timer on this same context.
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
                reply.return_value(new GLib.Variant('s', 'late'));
                return GLib.SOURCE_REMOVE;
            });
            return null;
        }
        return new GLib.Variant('i', this.events.length);
    }

    vfunc_terminate(reason) {
        this.events.push(['terminate', reason === null ? null : reason.message]);
    }
});

test('send_info and send_after reach handle_info, in order', async () => {
    const server = new Otp();
    server.start(null);
    GenServer.cast(server, 'one');
    server.send_info(new GLib.Variant('s', 'two'));
    const cancelled = server.send_after(new GLib.Variant('s', 'never'), 3600000);
    assert(server.cancel_timer(cancelled), 'timer not cancelled');
    server.send_after(new GLib.Variant('s', 'later'), 10);
    await waitFor(() => server.events.length === 3, 'timer');
    assertEqual(server.events, [['cast', 'one'], ['info', 'two'], ['info', 'later']]);
    server.stop(-1);
});

test('continues run before the next message; an exception in one is a crash', async () => {
    const server = new Otp();
    server.start(null);
    GenServer.cast(server, 'split');
    GenServer.cast(server, 'next');
    await waitFor(() => server.events.length === 4, 'continues');
    assertEqual(server.events, [['cast', 'split'], ['continue', 'first half'],
        ['continue', 'second half'], ['cast', 'next']]);
    GenServer.cast(server, 'explode later');
    await waitFor(() => !server.is_running(), 'crash');
    assertEqual(server.events.slice(-2),
        [['continue', 'explode'], ['terminate', 'continue went wrong']]);
});

test('a deferred reply is answered later, the server going on meanwhile', async () => {
    const server = new Otp();
    server.start(null);
    const late = GenServer.call(server, 'defer');
    assertEqual(await GenServer.call(server, 'count'), 0);
    assertEqual(await late, 'late');
    server.stop(-1);
});

test('the idle timeout reaches handle_info', async () => {
    const server = new Otp();
    server.start(null);
    server.set_idle_timeout(10);
    GenServer.cast(server, 'wake');
    await waitFor(() => server.events.some(e => e[0] === 'idle'), 'idle timeout');
    assertEqual(server.events[0], ['cast', 'wake']);
    server.stop(-1);
});

// A C client, a JavaScript server -------------------------------------------

Gio._promisify(GenTest, 'call_from_threads_async', 'call_from_threads_finish');

test('C threads call a JavaScript server', async () => {
    const server = new Counter();
    server.start(null);
    // The C threads block in gen_server_call; this thread runs the handlers.
    const replies = await GenTest.call_from_threads_async(server,
        new GLib.Variant('(sx)', ['add', 1]), 4, 25, DEADLINE_MS, null);
    const values = replies.recursiveUnpack().sort((a, b) => a - b);
    assertEqual(values, [...Array(100).keys()].map(i => i + 1));
    server.stop(-1);
});

test('a C client gets a JavaScript exception as an error with its message', async () => {
    const server = new Counter();
    server.start(null);
    const error = await assertThrows(() => GenTest.call_from_threads_async(server,
        new GLib.Variant('s', 'bogus'), 1, 1, DEADLINE_MS, null));
    assertEqual(error.message, 'unknown request bogus');
    // It crossed C in GJS's own error domain, which GJS turns back into a
    // JavaScript Error rather than a GLib.Error.
    assert(!(error instanceof GLib.Error), `${error}`);
    assert(server.is_running());
    server.stop(-1);
});

// A JavaScript client, a C server -------------------------------------------

test('JavaScript calls a C server', async () => {
    const server = GenTest.Counter.new();
    server.start(new GLib.Variant('i', 5));
    GenServer.cast(server, ['add', 2]);
    assertEqual(await GenServer.call(server, ['get', 0]), 7);
    assertEqual(GenServer.callSync(server, ['add', 3]), 10);
    server.stop(-1);
    assertEqual(server.get_terminate_count(), 1);
});

test('a C server refuses wrong types and reports its errors to JavaScript', async () => {
    const server = GenTest.Counter.new();
    server.start(null);
    const error = assertGenError(await assertThrows(() => GenServer.cast(server, ['add', 'x'])),
        ServerError.INVALID_MESSAGE);
    assertEqual(error.message, 'GenTestCounter expects cast messages of type “(si)”, got “(ss)”');
    const failed = await assertThrows(() => GenServer.call(server, ['fail', 0]));
    assert(failed.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED), `${failed}`);
    assertGenError(await assertThrows(() => GenServer.call(server, ['sleep', 300], 20)),
        ServerError.TIMEOUT);
    assertGenError(await assertThrows(() => GenServer.callSync(server, ['sleep', 300], 20)),
        ServerError.TIMEOUT);
    assertEqual(await GenServer.call(server, ['add', 1], DEADLINE_MS), 1);
    server.stop(-1);
});

test('a C server crashes, terminates and restarts', async () => {
    const server = GenTest.Counter.new();
    server.start(null);
    GenServer.cast(server, ['crash', 0]);
    await waitFor(() => server.get_terminate_count() === 1, 'terminate');
    assertEqual(server.dup_terminate_reason(), 'crashed on purpose');
    assert(!server.is_running());
    server.start(new GLib.Variant('i', 3));
    assertEqual(await GenServer.call(server, ['get', 0]), 3);
    server.stop(-1);
    assertEqual(server.dup_terminate_reason(), null);
});

await run();
