// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS exits cleanly with servers still running: a JavaScript server on
// this thread's context, and a C server busy on its own thread.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import GenTest from 'gi://GenTest';
import Gen from 'gi://Gen';

const GenServer = await import(Gen.gjs_helper_uri());

const Pong = GObject.registerClass(class Pong extends GenServer.Server {
    vfunc_handle_call() {
        return new GLib.Variant('s', 'pong');
    }
});

print('1..1');
const pong = new Pong();
pong.start(null);
const busy = GenTest.Counter.new();
busy.start(null);
// Still sleeping in its handler when this script ends.
GenServer.cast(busy, ['add', 1]);
busy.call_async(new GLib.Variant('(si)', ['sleep', 60000]), -1, null).catch(() => {});
const reply = await GenServer.call(pong, 'ping');
print(reply === 'pong' ? 'ok 1 - exit with running servers' : `not ok 1 - got ${reply}`);
