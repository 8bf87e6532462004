// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The counter of the original Python genserver README, in GJS:
//
//   gjs -m counter.js
//
// The server runs on this thread's main context (GJS runs JavaScript on its
// own thread only), so it is called with promises. The helper module is
// built into the library: Gen.gjs_helper_uri() says where.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gen from 'gi://Gen';

const GenServer = await import(Gen.gjs_helper_uri());

const CounterServer = GObject.registerClass({
    GTypeName: 'CounterServer',
}, class CounterServer extends GenServer.Server {
    vfunc_init() {
        this.count = 0;
    }

    vfunc_handle_cast(message) {
        const {action} = message.recursiveUnpack();
        if (action === 'increment')
            this.count++;
        else if (action === 'decrement')
            this.count--;
    }

    vfunc_handle_call(message) {
        const {action} = message.recursiveUnpack();
        if (action === 'get_count')
            return new GLib.Variant('i', this.count);
        if (action === 'increment_and_get')
            return new GLib.Variant('i', ++this.count);
        throw new Error(`Unknown action ${action}`);
    }

    vfunc_terminate() {
        print('Counter Server Stopped.');
    }
});

const counter = new CounterServer();
counter.start(null);

// Plain objects are packed as a{sv}.
GenServer.cast(counter, {action: 'increment'});
GenServer.cast(counter, {action: 'increment'});

const count = await GenServer.call(counter, {action: 'get_count'});
print(`Current Count: ${count}`);

const newCount = await GenServer.call(counter, {action: 'increment_and_get'});
print(`Incremented Count: ${newCount}`);

counter.stop(GenServer.DEFAULT_TIMEOUT);
