// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A JavaScript server served peer-to-peer by a Gen.DBusListener and called
// from another process (test-dbus-listener --call), and the bound on peers
// that connect and never authenticate.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';

import {DEADLINE_MS, assert, assertEqual, run, test, waitFor} from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

Gio._promisify(Gio.Subprocess.prototype, 'communicate_utf8_async', 'communicate_utf8_finish');
Gio._promisify(Gio.SocketClient.prototype, 'connect_async', 'connect_finish');
Gio._promisify(Gio.InputStream.prototype, 'read_bytes_async', 'read_bytes_finish');

// Calls ['add', n]: adds n, answers the sum.
const Adder = GObject.registerClass({
    GTypeName: 'JsListenerAdder',
}, class Adder extends GenServer.Server {
    static callType = '(sx)';

    vfunc_init() {
        this.sum = 0;
    }

    vfunc_handle_call(message) {
        const [, n] = message.recursiveUnpack();
        this.sum += n;
        return new GLib.Variant('x', this.sum);
    }
});

function socketDir() {
    const dir = GLib.dir_make_tmp('genserver-gjs-XXXXXX');
    return {dir, path: `${dir}/socket`, address: `unix:path=${dir}/socket`};
}

async function callFromAnotherProcess(address, objectPath, message) {
    const process = Gio.Subprocess.new(
        [GLib.getenv('GEN_TEST_DBUS_LISTENER'), '--call', address, objectPath, message],
        Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE);
    const [out, err] = await process.communicate_utf8_async(null, null);
    return {ok: process.get_successful(), out: out.trim(), err: err.trim()};
}

// A peer that connects and never writes; `closed` once the listener hangs up.
async function silentPeer(path) {
    const client = new Gio.SocketClient();
    const connection = await client.connect_async(Gio.UnixSocketAddress.new(path), null);
    const peer = {connection, closed: false};
    connection.get_input_stream().read_bytes_async(1, GLib.PRIORITY_DEFAULT, null)
        .then(bytes => {
            peer.closed = bytes.get_size() === 0;
        })
        .catch(() => {
            peer.closed = true;
        });
    return peer;
}

// Runs fn({listener, adder, path, address}) with a listener exporting a
// started Adder at /adder, and cleans up whatever happened.
async function withListener(fn) {
    const {dir, path, address} = socketDir();
    const listener = Gen.DBusListener.new(address, null);
    const adder = new Adder();
    try {
        adder.start();
        listener.export(adder, '/adder');
        await fn({listener, path, address});
    } finally {
        listener.close();
        adder.stop();
        GLib.rmdir(dir);
    }
}

test('a JS server is served on every connection',
    () => withListener(async ({listener, path, address}) => {
        assertEqual(listener.client_address, address, 'client address');
        assertEqual(listener.max_handshakes, 32, 'max-handshakes');
        assertEqual(await callFromAnotherProcess(address, '/adder', '("add", 2)'),
            {ok: true, out: '2', err: ''}, 'first peer');
        assertEqual(await callFromAnotherProcess(address, '/adder', '("add", 3)'),
            {ok: true, out: '5', err: ''}, 'second peer');
        listener.close();
        assert(!GLib.file_test(path, GLib.FileTest.EXISTS), 'the socket is gone');
        assert(!(await callFromAnotherProcess(address, '/adder', '("add", 1)')).ok,
            'no peer after close');
    }));

test('silent peers hold at most max-handshakes places',
    () => withListener(async ({listener, path, address}) => {
        listener.max_handshakes = 2;
        listener.handshake_timeout = DEADLINE_MS;
        const peers = [];
        for (let i = 0; i < 5; i++)
            // eslint-disable-next-line no-await-in-loop
            peers.push(await silentPeer(path));
        await waitFor(() => peers.filter(p => p.closed).length === 3, 'three closed at once');
        // The bound full, a real client is refused too.
        assert(!(await callFromAnotherProcess(address, '/adder', '("add", 1)')).ok,
            'a client while the bound is full');
        assertEqual(peers.filter(p => p.closed).length, 3, 'closed');
        // Closing abandons the held handshakes.
        listener.close();
        await waitFor(() => peers.every(p => p.closed), 'all closed');
    }));

test('a silent peer is cut off after handshake-timeout',
    () => withListener(async ({listener, path, address}) => {
        listener.handshake_timeout = 100;
        const peers = [await silentPeer(path), await silentPeer(path)];
        await waitFor(() => peers.every(p => p.closed), 'both cut off');
        // A real client gets through in time.
        listener.handshake_timeout = DEADLINE_MS;
        assertEqual(await callFromAnotherProcess(address, '/adder', '("add", 4)'),
            {ok: true, out: '4', err: ''}, 'a real peer');
    }));

await run();
