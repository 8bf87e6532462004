// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Let it crash, in GJS: a worker crashes, is restarted with fresh state,
// and its registered name follows the new instance. The same program as
// examples/supervision.c:
//
//   gjs -m supervision.js
//
// JavaScript servers run on this thread's main context, and a GenSupervisor
// cannot give the children it creates a main context yet, so the restart is
// done here by a monitor: a one_for_one supervisor of one permanent child,
// built from the same parts GenSupervisor uses (a fresh instance, a name in
// the registry, a monitor notice on the supervising thread).

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';

const GenServer = await import(Gen.gjs_helper_uri());

const Worker = GObject.registerClass({
    GTypeName: 'Worker',
}, class Worker extends GenServer.Server {
    static castType = 's';

    vfunc_init() {
        this.count = 0;
        print('Worker started with count 0');
    }

    vfunc_handle_cast(message) {
        const command = message.unpack();
        if (command === 'add')
            this.count++;
        else if (command === 'crash')
            throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.FAILED, 'asked to crash');
    }

    vfunc_handle_call() {
        return new GLib.Variant('i', this.count);
    }

    vfunc_terminate(reason) {
        print(reason ? `Worker stopped: ${reason.message}` : 'Worker stopped normally');
    }
});

// Starts a fresh Type under name, and again each time it stops abnormally.
// Resolves `restarted` promises in order, for the program to wait on.
function supervise(Type, name, registry) {
    const restarts = [];
    const startChild = () => {
        const server = new Type();
        server.start(null);
        registry.register(name, server);
        server.monitor((stopped, reason) => {
            if (reason === null)
                return;     // a normal stop is final
            startChild();
            restarts.shift()?.();
        });
        return server;
    };
    startChild();
    return {
        restarted: () => new Promise(resolve => restarts.push(resolve)),
        stop: () => {
            registry.lookup(name)?.stop(-1);
        },
    };
}

GLib.log_set_handler('Gen', GLib.LogLevelFlags.LEVEL_MESSAGE,
    (domain, level, message) => print(`Crash report: ${message}`));

const registry = Gen.Registry.get_default();
const supervisor = supervise(Worker, 'worker', registry);

registry.cast('worker', new GLib.Variant('s', 'add'));
registry.cast('worker', new GLib.Variant('s', 'add'));
print(`Count: ${await GenServer.call(registry.lookup('worker'), 'get')}`);

const first = registry.lookup('worker');
const restarted = supervisor.restarted();
GenServer.cast(first, 'crash');
await restarted;

const second = registry.lookup('worker');
print(`The name “worker” now belongs to ${second && second !== first ? 'a new' : 'the old'} instance`);
registry.cast('worker', new GLib.Variant('s', 'add'));
print(`Count: ${await GenServer.call(registry.lookup('worker'), 'get')}`);

supervisor.stop();
print('Supervisor stopped.');
