// SPDX-License-Identifier: LGPL-2.1-or-later
//
// JavaScript as a client of a C server in another process (test-remote run
// as a service), peer-to-peer over a unix socket: the everyday GNOME case
// of a service in C and a shell extension or app in JS.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';

import {assert, assertEqual, assertGenError, assertThrows, run, test} from './harness.js';

const GenServer = await import(Gen.gjs_helper_uri());

const {ServerError} = Gen;
const OBJECT_PATH = '/io/github/genserver/Test/Counter';

function spawnService() {
    const dir = GLib.dir_make_tmp('genserver-gjs-XXXXXX');
    const address = `unix:path=${dir}/socket`;
    const process = Gio.Subprocess.new(
        [GLib.getenv('GEN_TEST_REMOTE_SERVER'), '--serve', address],
        Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
    const out = new Gio.DataInputStream({base_stream: process.get_stdout_pipe()});
    const [line] = out.read_line_utf8(null);
    assertEqual(line, 'ready', 'the service says');
    const connection = Gio.DBusConnection.new_for_address_sync(address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, null, null);
    const counter = GenServer.remote(connection, null, OBJECT_PATH);
    const finish = () => {
        if (!connection.is_closed())
            connection.close_sync(null);
        process.force_exit();
        process.wait(null);
        GLib.unlink(`${dir}/socket`);
        GLib.rmdir(dir);
    };
    return {process, counter, finish};
}

test('call and cast a C server in another process', async () => {
    const {counter, finish} = spawnService();
    try {
        assert(counter instanceof Gen.Remote, 'a Gen.Remote');
        assertEqual(counter.get_call_type(), '(sx)', 'call type');
        GenServer.cast(counter, ['add', 2]);
        assertEqual(await GenServer.call(counter, ['add', 1]), 3, 'reply');
        assertEqual(GenServer.callSync(counter, ['get', 0]), 3, 'sync reply');
    } finally {
        finish();
    }
});

test('a wrong message is refused in the caller', async () => {
    const {counter, finish} = spawnService();
    try {
        const error = await assertThrows(() => GenServer.call(counter, 'add'));
        assertGenError(error, ServerError.INVALID_MESSAGE);
        const handlerError = await assertThrows(() => GenServer.call(counter, ['fail-gen', 0]));
        assertGenError(handlerError, ServerError.NAME_TAKEN);
    } finally {
        finish();
    }
});

test('a monitor tells the service vanished', async () => {
    const {process, counter, finish} = spawnService();
    try {
        const reason = GenServer.down(counter);
        assertEqual(await GenServer.call(counter, ['get', 0]), 0, 'reply');
        process.force_exit();
        const error = assertGenError(await reason, ServerError.NO_CONNECTION);
        assert(error.message.startsWith('noconnection'), error.message);
    } finally {
        finish();
    }
});

await run();
