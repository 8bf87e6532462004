// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A code lock: Erlang/OTP's own gen_statem example, as a Gen.Statem, in
// GJS (the same program as examples/door.c):
//
//   gjs -m door.js
//
// The machine runs on this thread's main context, so it is called with
// promises. The helper module is built into the library:
// Gen.gjs_helper_uri() says where.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gen from 'gi://Gen';

const GenServer = await import(Gen.gjs_helper_uri());

const OPEN_MS = 100; // Erlang's example uses 10 s

const Door = GObject.registerClass({
    GTypeName: 'Door',
}, class Door extends GenServer.Statem {
    static stateEnter = true;
    static castType = 's';
    static callType = 's';

    vfunc_init_state(code) {
        this.code = code.unpack();
        this.buttons = '';
        return new GLib.Variant('s', 'locked');
    }

    vfunc_handle_event(type, content, state) {
        const locked = state.unpack() === 'locked';
        switch (type) {
        case Gen.StatemEventType.ENTER:
            if (locked) {
                print('Lock');
                this.buttons = '';
            } else {
                print('Unlock');
                this.set_state_timeout(OPEN_MS, new GLib.Variant('s', 'lock'));
            }
            return null;
        case Gen.StatemEventType.CAST:
            if (!locked)
                return null;
            this.buttons = (this.buttons + content.unpack()).slice(-this.code.length);
            return this.buttons === this.code ? new GLib.Variant('s', 'open') : null;
        case Gen.StatemEventType.STATE_TIMEOUT:
            return new GLib.Variant('s', 'locked');
        case Gen.StatemEventType.CALL: {
            const request = content.unpack();
            if (request === 'code-length')
                this.reply(null, new GLib.Variant('i', this.code.length));
            else if (request === 'state')
                this.reply(null, state);
            else if (request === 'wait-locked' && !locked)
                this.postpone(); // asked again once the state changes
            else if (request === 'wait-locked')
                this.reply(null, state);
            else
                throw new Error(`Unknown request ${request}`);
            return null;
        }
        default:
            return null;
        }
    }

    vfunc_terminate() {
        print('Door stopped.');
    }
});

const door = new Door();
door.start(new GLib.Variant('s', '1234'));
print(`Code length: ${await GenServer.call(door, 'code-length')}`);

// Casts and calls from one thread are handled in the order sent.
for (const button of '129')
    GenServer.cast(door, button);
print(`State: ${await GenServer.call(door, 'state')}`);

for (const button of '1234')
    GenServer.cast(door, button);
print(`State: ${await GenServer.call(door, 'state')}`);

print(`Door is ${await GenServer.call(door, 'wait-locked')} again`);
door.stop(GenServer.DEFAULT_TIMEOUT);
