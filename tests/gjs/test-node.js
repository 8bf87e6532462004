// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Gen.Node from JavaScript: a node of this process connects to a C node in
// another process (test-node --serve-node) over TLS on loopback, and calls
// its counter by name with the errors of a local server.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';

import {assert, assertEqual, assertGenError, assertThrows, run, test} from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {ServerError} = Gen;

Gio._promisify(Gen.Node.prototype, 'connect_async', 'connect_finish');

const certs = GLib.dir_make_tmp('genserver-gjs-certs-XXXXXX');
Gio.Subprocess.new(['/bin/sh', GLib.getenv('GEN_TEST_MAKE_CERTS'), certs],
    Gio.SubprocessFlags.NONE).wait_check(null);

function spawnNodeA() {
    const process = Gio.Subprocess.new(
        [GLib.getenv('GEN_TEST_NODE_SERVER'), '--serve-node', 'tls:host=127.0.0.1,port=0', certs],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    const out = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
    const [address] = out.read_line_utf8(null);
    assert(address.startsWith('tls:host=127.0.0.1,port='), address);
    const finish = () => {
        process.force_exit();
        process.wait(null);
    };
    return {process, address, finish};
}

function nodeB(name = 'b') {
    const node = Gen.Node.new(name);
    node.set_tls_credentials_from_files(`${certs}/${name}.crt`, `${certs}/${name}.key`,
        `${certs}/ca.crt`);
    return node;
}

test('call and cast a C node over TLS', async () => {
    const {address, finish} = spawnNodeA();
    const node = nodeB();
    try {
        const peer = await node.connect_async(address, null);
        assertEqual(peer, 'a', 'peer name');
        assertEqual(node.list_peers().join(), 'a', 'peers');
        const counter = node.remote_for_name(peer, 'counter', null);
        GenServer.cast(counter, ['add', 2]);
        assertEqual((await GenServer.call(counter, ['get', 0])).join(), '2,0', 'reply');
    } finally {
        node.close();
        finish();
    }
});

test('the errors of a local server', async () => {
    const {address, finish} = spawnNodeA();
    const node = nodeB();
    try {
        const peer = await node.connect_async(address, null);
        const counter = node.remote_for_name(peer, 'counter', null);
        const failed = await assertThrows(() => GenServer.call(counter, ['fail', 0]));
        assertEqual(assertGenError(failed, ServerError.FAILED).message, 'asked to fail', 'message');
        const wrong = await assertThrows(() => GenServer.call(counter, 'get'));
        assertGenError(wrong, ServerError.INVALID_MESSAGE);
        const nobody = await assertThrows(() => node.remote_for_name(peer, 'nobody', null));
        assertGenError(nobody, ServerError.NOT_FOUND);
        const unknown = await assertThrows(() => node.remote_for_name('c', 'counter', null));
        assertGenError(unknown, ServerError.NO_CONNECTION);
    } finally {
        node.close();
        finish();
    }
});

test('node monitors tell the link went down', async () => {
    const {process, address, finish} = spawnNodeA();
    const node = nodeB();
    try {
        const peer = await node.connect_async(address, null);
        const counter = node.remote_for_name(peer, 'counter', null);
        const down = new Promise(resolve => {
            node.monitor_node(peer, (_node, name, reason) => resolve([name, reason]));
        });
        process.force_exit();
        const [name, reason] = await down;
        assertEqual(name, 'a', 'peer');
        assert(assertGenError(reason, ServerError.NO_CONNECTION).message.startsWith('noconnection'),
            reason.message);
        const error = await assertThrows(() => GenServer.call(counter, ['get', 0]));
        assertGenError(error, ServerError.NO_CONNECTION);
    } finally {
        node.close();
        finish();
    }
});

test('node.connect() and disconnect() take signal handlers too', async () => {
    const {process, address, finish} = spawnNodeA();
    const node = nodeB();
    try {
        const up = new Promise(resolve => {
            node.connect('node-up', (_node, name) => resolve(name));
        });
        const peer = node.connect(address);
        assertEqual(peer, 'a', 'peer name');
        assertEqual(await up, 'a', 'node-up');
        const down = new Promise(resolve => {
            node.connect('node-down', (_node, name, reason) => resolve([name, reason]));
        });
        let dropped = false;
        node.disconnect(node.connect('node-down', () => (dropped = true)));
        process.force_exit();
        const [name, reason] = await down;
        assertEqual(name, 'a', 'node-down');
        assertGenError(reason, ServerError.NO_CONNECTION);
        assert(!dropped, 'a disconnected handler ran');
        await assertThrows(() => node.connect('no-such-signal', () => {}));
    } finally {
        node.close();
        finish();
    }
});

test('a certificate from another CA is refused', async () => {
    const {address, finish} = spawnNodeA();
    const node = nodeB('rogue');
    try {
        await assertThrows(() => node.connect_async(address, null));
    } finally {
        node.close();
        finish();
    }
});

// Last, since run() exits: no private key is left behind.
test('the certificates are removed', () => {
    Gio.Subprocess.new(['rm', '-rf', certs], Gio.SubprocessFlags.NONE).wait_check(null);
    assert(!GLib.file_test(certs, GLib.FileTest.EXISTS), certs);
});

await run();
