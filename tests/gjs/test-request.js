// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Gen.Request from GJS: `await request.wait_async(timeoutMs, cancellable)`
// (promisified by the helper), with Erlang's wait_response semantics: a
// timeout or a cancellation ends only the wait, the reply is given again
// to every wait after it, and a server that ends first fails it STOPPED.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';
import GenTest from 'gi://GenTest';

import {DEADLINE_MS, assert, assertEqual, assertGenError, assertThrows, run, test}
    from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {ServerError} = Gen;

// Answers a call with its message; a "hold" call answers "released" once a
// cast comes.
const Holder = GObject.registerClass({
    GTypeName: 'JsRequestHolder',
}, class Holder extends GenServer.Server {
    vfunc_init(_args) {
        this.held = [];
    }

    vfunc_handle_cast(_message) {
        for (const resolve of this.held.splice(0))
            resolve('released');
    }

    vfunc_handle_call(message) {
        const request = message.recursiveUnpack();
        if (request === 'hold')
            return new Promise(resolve => this.held.push(resolve));
        return request;
    }
});

function startHolder() {
    const holder = new Holder();
    holder.start();
    return holder;
}

test('await request.wait_async() gives the reply, again at every wait', async () => {
    const counter = GenTest.Counter.new();
    counter.start(new GLib.Variant('i', 5));
    const request = counter.send_request(new GLib.Variant('(si)', ['add', 2]));
    assertEqual((await request.wait_async(DEADLINE_MS, null)).unpack(), 7);
    assertEqual((await request.wait_async(0, null)).unpack(), 7, 'the same reply');
    const failed = counter.send_request(new GLib.Variant('(si)', ['fail', 0]));
    const error = await assertThrows(() => failed.wait_async(DEADLINE_MS, null));
    assert(error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED), error.message);
    counter.stop(-1);
});

test('a timed-out wait leaves the request pending', async () => {
    const holder = startHolder();
    const request = holder.send_request(new GLib.Variant('s', 'hold'));
    const error = await assertThrows(() => request.wait_async(10, null), 'wait_async');
    assertGenError(error, ServerError.TIMEOUT);
    holder.cast(new GLib.Variant('s', 'release'));
    assertEqual((await request.wait_async(DEADLINE_MS, null)).unpack(), 'released');
    holder.stop();
});

test('cancelling ends only the wait', async () => {
    const holder = startHolder();
    const request = holder.send_request(new GLib.Variant('s', 'hold'));
    const cancellable = new Gio.Cancellable();
    const waiting = request.wait_async(-1, cancellable);
    cancellable.cancel();
    const error = await assertThrows(() => waiting, 'the cancelled wait');
    assert(error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), error.message);
    holder.cast(new GLib.Variant('s', 'release'));
    assertEqual((await request.wait_async(DEADLINE_MS, null)).unpack(), 'released');
    holder.stop();
});

test('a server that stops before it answers fails the wait STOPPED', async () => {
    const holder = startHolder();
    const request = holder.send_request(new GLib.Variant('s', 'hold'));
    const waiting = request.wait_async(-1, null);
    // Its reply is taken once the call is handled; the end of the run
    // answers it.
    assertEqual((await holder.send_request(new GLib.Variant('s', 'echo'))
        .wait_async(DEADLINE_MS, null)).unpack(), 'echo');
    holder.stop();
    assertGenError(await assertThrows(() => waiting, 'the wait'), ServerError.STOPPED);
});

await run();
