// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS helpers for genserver: a Promise-returning call, plain JavaScript
// values as messages, and a base class whose servers run on this thread's
// main context (GJS runs JavaScript on its own thread only). A thin layer:
// every check, queue and timeout stays in C.
//
//   import Gen from 'gi://Gen';
//   const GenServer = await import(Gen.gjs_helper_uri());
//
// (built into libgenserver-1 as a resource; see doc/javascript.md.)

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Gen from 'gi://Gen';

// server.call_async(message, timeoutMs, cancellable) returns a Promise when
// given no callback. Promisified once per process, however often imported.
if (!Gen.Server.prototype.call_async.__genPromisified) {
    Gio._promisify(Gen.Server.prototype, 'call_async', 'call_finish');
    Gen.Server.prototype.call_async.__genPromisified = true;
}

// request.wait_async(timeoutMs, cancellable) returns a Promise when given no
// callback: `await request.wait_async(1000, null)` for a Gen.Request made by
// Gen.Server.send_request() or a Gen.RequestSet.
if (!Gen.Request.prototype.wait_async.__genPromisified) {
    Gio._promisify(Gen.Request.prototype, 'wait_async', 'wait_finish');
    Gen.Request.prototype.wait_async.__genPromisified = true;
}

// start() and stop() with defaults, for every server (C ones too):
// start() without arguments, start(plainValue) packed as toVariant() does,
// stop() waiting as long as it takes.
if (!Gen.Server.prototype.start.__genDefaults) {
    const {start, stop} = Gen.Server.prototype;
    Gen.Server.prototype.start = function (args = null) {
        return start.call(this, args === null ? null : toVariant(args));
    };
    Gen.Server.prototype.stop = function (timeoutMs = -1) {
        return stop.call(this, timeoutMs);
    };
    Gen.Server.prototype.start.__genDefaults = true;
}

// replace_state(timeoutMs, func): an exception func throws keeps the state
// and is thrown to the caller, as Erlang's sys:replace_state hands the caller
// the callback's failure (GJS alone would log it as a critical and give the
// old state back).
if (!Gen.Server.prototype.replace_state.__genThrows) {
    const replaceState = Gen.Server.prototype.replace_state;
    Gen.Server.prototype.replace_state = function (timeoutMs, func) {
        let failed = false, failure;
        const state = replaceState.call(this, timeoutMs, current => {
            try {
                return func(current);
            } catch (e) {
                failed = true;
                failure = e;
                return null;
            }
        });
        if (failed)
            throw failure;
        return state;
    };
    Gen.Server.prototype.replace_state.__genThrows = true;
}

// Gen.Node's connect(address, cancellable) and disconnect(peer) hide
// GObject's: called as GObject's are (a function second; a handler id), they
// connect and disconnect signal handlers.
if (!Gen.Node.prototype.connect.__genSignals) {
    const nodeConnect = Gen.Node.prototype.connect;
    Gen.Node.prototype.connect = function (addressOrSignal, cancellableOrHandler = null,
        ...rest) {
        if (typeof cancellableOrHandler === 'function') {
            return GObject.Object.prototype.connect.call(this, addressOrSignal,
                cancellableOrHandler, ...rest);
        }
        return nodeConnect.call(this, addressOrSignal, cancellableOrHandler, ...rest);
    };
    const nodeDisconnect = Gen.Node.prototype.disconnect;
    Gen.Node.prototype.disconnect = function (peerOrHandlerId) {
        if (typeof peerOrHandlerId === 'number')
            return GObject.Object.prototype.disconnect.call(this, peerOrHandlerId);
        return nodeDisconnect.call(this, peerOrHandlerId);
    };
    Gen.Node.prototype.connect.__genSignals = true;
}

/** The default call timeout, in milliseconds (GEN_SERVER_DEFAULT_TIMEOUT). */
export const DEFAULT_TIMEOUT = Gen.SERVER_DEFAULT_TIMEOUT;

function inferVariant(value) {
    if (value instanceof GLib.Variant)
        return value;
    switch (typeof value) {
    case 'boolean':
        return new GLib.Variant('b', value);
    case 'number':
        return new GLib.Variant(Number.isInteger(value) ? 'x' : 'd', value);
    case 'bigint':
        return new GLib.Variant('x', value);
    case 'string':
        return new GLib.Variant('s', value);
    }
    if (value instanceof Uint8Array)
        return new GLib.Variant('ay', value);
    if (Array.isArray(value))
        return GLib.Variant.new_tuple(value.map(inferVariant));
    if (value !== null && typeof value === 'object' &&
        Object.getPrototypeOf(value) === Object.prototype) {
        const dict = {};
        for (const [key, item] of Object.entries(value))
            dict[key] = inferVariant(item);
        return new GLib.Variant('a{sv}', dict);
    }
    throw new TypeError(`Cannot infer a GLib.Variant type for ${value}; pass a GLib.Variant`);
}

function sameValue(packed, value) {
    if (value instanceof GLib.Variant)
        value = value.recursiveUnpack();
    if (value instanceof Uint8Array || Array.isArray(value)) {
        return packed !== null && packed.length === value.length &&
            Array.prototype.every.call(value, (item, i) => sameValue(packed[i], item));
    }
    if (value !== null && typeof value === 'object') {
        if (packed === null || typeof packed !== 'object')
            return false;
        const keys = Object.keys(value);
        return keys.length === Object.keys(packed).length &&
            keys.every(key => sameValue(packed[key], value[key]));
    }
    // eslint-disable-next-line eqeqeq
    return packed == value; // 2n == 2, and 64-bit integers unpack as numbers
}

/**
 * Wraps a JavaScript value in a GLib.Variant. A GLib.Variant is returned as
 * it is. With a type string the value is packed as that type; without one
 * the type follows the value: boolean → b, integer → x, other number → d,
 * string → s, Uint8Array → ay, Array → a tuple of the inferred types, plain
 * object → a{sv}.
 *
 * GJS packs some mismatched values silently (('a', 'b') as (si) gives
 * ('a', 0)), so a value that does not survive packing with the declared
 * type is packed with the type it has instead: the server then refuses it
 * in C with INVALID_MESSAGE, naming both types.
 *
 * @param {*} value the message
 * @param {string|null} typeString the server's declared type, if any
 * @returns {GLib.Variant} the message as a variant
 */
export function toVariant(value, typeString = null) {
    if (value instanceof GLib.Variant)
        return value;
    if (typeString !== null) {
        try {
            const packed = new GLib.Variant(typeString, value);
            if (sameValue(packed.recursiveUnpack(), value))
                return packed;
        } catch (e) {
            if (!(e instanceof Error))
                throw e;
        }
    }
    return inferVariant(value);
}

/**
 * Casts a plain value (or a GLib.Variant) to any server.
 *
 * @param {Gen.Server} server the server
 * @param {*} message packed with the server's cast-type, see toVariant()
 * @returns {boolean} true; a refusal throws a GLib.Error
 */
export function cast(server, message) {
    return server.cast(toVariant(message, server.get_cast_type()));
}

/**
 * Calls any server without blocking this thread, which is how a server on
 * this thread's main context must be called.
 *
 * @param {Gen.Server} server the server
 * @param {*} message packed with the server's call-type, see toVariant()
 * @param {number} timeoutMs the timeout in milliseconds; negative waits forever
 * @param {object} [options] options
 * @param {Gio.Cancellable} [options.cancellable] cancels the call
 * @param {boolean} [options.unpack] false to get the reply as a GLib.Variant
 * @returns {Promise<*>} the reply, recursively unpacked; rejects with the
 *   handler's error, or a GLib.Error of the Gen.ServerError domain
 */
export async function call(server, message, timeoutMs = DEFAULT_TIMEOUT,
    {cancellable = null, unpack = true} = {}) {
    const reply = await server.call_async(toVariant(message, server.get_call_type()),
        timeoutMs, cancellable);
    return unpack ? reply.recursiveUnpack() : reply;
}

/**
 * Calls a server that runs on another thread (a C or Vala server on its own
 * thread) and blocks until the reply. From the thread that runs the
 * server's handlers this throws CALLING_SELF: use call() there.
 *
 * @param {Gen.Server} server the server
 * @param {*} message packed with the server's call-type
 * @param {number} timeoutMs the timeout in milliseconds; negative waits forever
 * @param {object} [options] options
 * @param {boolean} [options.unpack] false to get the reply as a GLib.Variant
 * @returns {*} the reply, recursively unpacked
 */
export function callSync(server, message, timeoutMs = DEFAULT_TIMEOUT, {unpack = true} = {}) {
    const reply = server.call(toVariant(message, server.get_call_type()), timeoutMs);
    return unpack ? reply.recursiveUnpack() : reply;
}

/**
 * The GLib.Error a rejection reaches C as: a GLib.Error as it is; any other
 * exception as Gen.ServerError.FAILED with its class and message, as the
 * Python override does. (A synchronous throw reaches C in GJS's own error
 * domain, which GJS does not let JavaScript code create.)
 *
 * @param {*} reason what a handler's promise rejected with
 * @returns {GLib.Error} the error for C
 */
function toGError(reason) {
    if (reason instanceof GLib.Error)
        return reason;
    const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
    return new GLib.Error(Gen.server_error_quark(), Gen.ServerError.FAILED, text);
}

// What vfunc_handle_call returned, as the GLib.Variant C expects: packed
// with the class's replyType (inferred without one), and refused when it is
// not of that type, as the Python override does.
function toReply(server, value) {
    if (value === null || value === undefined)
        return null;
    const replyType = server.constructor.replyType ?? null;
    const reply = toVariant(value, replyType);
    if (replyType !== null && !reply.get_type().is_subtype_of(new GLib.VariantType(replyType))) {
        throw new GLib.Error(Gen.server_error_quark(), Gen.ServerError.FAILED,
            `${server.constructor.$gtype.name} replies with type “${replyType}”, ` +
            `its vfunc_handle_call returned “${reply.get_type_string()}”`);
    }
    return reply;
}

// A handler returning a promise (an async handler) answers when it
// settles: the reply handle is taken now, on the server's thread, and the
// answer, or the rejection, is given later from this same thread.
function wrapHandleCall(handleCall) {
    const wrapped = function (message) {
        const result = handleCall.call(this, message);
        if (typeof result?.then !== 'function')
            return toReply(this, result);
        const reply = this.take_reply();
        result.then(value => {
            const variant = toReply(this, value);
            if (variant === null) {
                throw new GLib.Error(Gen.server_error_quark(), Gen.ServerError.FAILED,
                    `${this.constructor.$gtype.name}’s vfunc_handle_call resolved to ${value}`);
            }
            reply.return_value(variant);
        }).catch(reason => reply.return_error(toGError(reason)))
            .catch(e => logError(e, 'Answering a deferred call'));
        return null;
    };
    wrapped.__genWrapped = true;
    return wrapped;
}

// Servers whose GObject was made: a subclass's _init() that does not chain
// up leaves the wrapper without one, on which every method fails.
const constructed = new WeakSet();

function assertConstructed(object, klass, what) {
    if (!constructed.has(object)) {
        throw new Error(`${klass.name}’s _init() did not call super._init(params): ` +
            `the ${what} was never made`);
    }
}

/**
 * A Gen.Server for JavaScript subclasses. Its handlers run on the
 * thread-default main context of the thread that constructs it (GJS cannot
 * run JavaScript on any other thread), and static fields declare message
 * types: `castType` and `callType` (the construct properties) and
 * `replyType`, the type plain values returned by vfunc_handle_call are
 * packed as (inferred without it):
 *
 *   const Counter = GObject.registerClass(class Counter extends GenServer.Server {
 *       static castType = '(si)';
 *       static replyType = 'i';
 *       vfunc_handle_cast(message) { ... }
 *       vfunc_handle_call(message) { return this.count; }
 *   });
 *
 * vfunc_handle_call may return a GLib.Variant, a plain value, or a promise
 * (an async method): the call is answered when it settles, the server
 * handling other messages meanwhile. Construct properties given to the
 * constructor win over the static fields. A subclass that overrides _init()
 * must call super._init(params): construction throws otherwise.
 */
export const Server = GObject.registerClass({
    GTypeName: 'GenJsServer',
}, class Server extends Gen.Server {
    static _classInit(klass) {
        const own = Object.getOwnPropertyDescriptor(klass.prototype, 'vfunc_handle_call');
        if (typeof own?.value === 'function' && !own.value.__genWrapped)
            klass.prototype.vfunc_handle_call = wrapHandleCall(own.value);
        return Gen.Server._classInit(klass);
    }

    constructor(params = {}) {
        super({
            main_context: GLib.MainContext.ref_thread_default(),
            cast_type: new.target.castType ?? null,
            call_type: new.target.callType ?? null,
            ...params,
        });
        assertConstructed(this, new.target, 'server');
    }

    _init(params) {
        super._init(params);
        constructed.add(this);
    }
});

/**
 * A Gen.Statem for JavaScript subclasses, on this thread's main context as
 * Server is (and, like it, refusing a subclass whose _init() does not chain
 * up). Static `castType` / `callType` declare message types and
 * `static stateEnter = true` turns state enter calls on:
 *
 *   const Door = GObject.registerClass(class Door extends GenServer.Statem {
 *       static stateEnter = true;
 *       vfunc_init_state(args) { return new GLib.Variant('s', 'locked'); }
 *       vfunc_handle_event(type, content, state) { ... }
 *   });
 */
export const Statem = GObject.registerClass({
    GTypeName: 'GenJsStatem',
}, class Statem extends Gen.Statem {
    constructor(params = {}) {
        super({
            main_context: GLib.MainContext.ref_thread_default(),
            cast_type: new.target.castType ?? null,
            call_type: new.target.callType ?? null,
            state_enter: new.target.stateEnter ?? false,
            ...params,
        });
        assertConstructed(this, new.target, 'state machine');
    }

    _init(params) {
        super._init(params);
        constructed.add(this);
    }
});

/**
 * Erlang's send_request for JavaScript. The call is queued now, in order
 * with this thread's casts, and the returned Promise is the request id:
 * await it later, or many at once with Promise.all (wait for all, one
 * deadline with a timeout), Promise.any or Promise.race (the first):
 *
 *   const replies = await Promise.all(servers.map(s => GenServer.sendRequest(s, 'report')));
 *
 * (Gen.Server.send_request, whose waits block, is for threads without a
 * main loop; GJS has one.)
 *
 * @param {Gen.Server} server the server
 * @param {*} message packed with the server's call-type, see toVariant()
 * @param {number} timeoutMs the timeout in milliseconds; negative waits forever
 * @param {object} [options] as for call()
 * @returns {Promise<*>} the reply
 */
export function sendRequest(server, message, timeoutMs = DEFAULT_TIMEOUT, options = {}) {
    return call(server, message, timeoutMs, options);
}

// D-Bus: Gen.Remote ----------------------------------------------------------
// Kept in a block of its own. cast(), call() and callSync() above take a
// Gen.Remote as well as a Gen.Server: a remote server has the same
// get_cast_type(), get_call_type(), cast() and call_async().

if (!Gen.Remote.prototype.call_async.__genPromisified) {
    Gio._promisify(Gen.Remote.prototype, 'call_async', 'call_finish');
    Gen.Remote.prototype.call_async.__genPromisified = true;
}

/**
 * Reaches a server exported by another process (Gen.Server.export()).
 *
 *   const counter = GenServer.remote(connection, null, '/org/example/Counter');
 *   GenServer.cast(counter, {action: 'increment'});
 *   const count = await GenServer.call(counter, {action: 'get_count'});
 *
 * @param {Gio.DBusConnection} connection to a bus, or peer-to-peer
 * @param {string|null} busName the server process's bus name; null
 *   peer-to-peer
 * @param {string} objectPath where the server is exported
 * @returns {Gen.Remote} the remote server
 */
export function remote(connection, busName, objectPath) {
    return Gen.Remote.new_sync(connection, busName, objectPath, null);
}

/**
 * Resolves once a remote server is down, with why: null for a normal stop,
 * the GLib.Error of its stop otherwise, or a Gen.ServerError.NO_CONNECTION error
 * whose message starts with "noconnection" when the peer or its bus name
 * vanished. Like Gen.Remote.monitor(), on this thread's main context.
 *
 * @param {Gen.Remote} remoteServer the remote server
 * @returns {Promise<GLib.Error|null>} the reason
 */
export function down(remoteServer) {
    return new Promise(resolve => {
        remoteServer.monitor((_remote, reason) => resolve(reason));
    });
}
