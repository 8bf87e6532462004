// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A small TAP test runner for the GJS suite (jasmine-gjs is not in Debian
// 12): tests are async functions run one after the other while this
// thread's main context runs, since replies to call_async arrive through it.

import GLib from 'gi://GLib';
import System from 'system';

// How long to wait for something that should happen at once. Generous: a
// passing test never waits this long.
export const DEADLINE_MS = 30000;

const tests = [];

export function test(name, fn) {
    tests.push({name, fn});
}

export function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new Error(message);
}

export function assertEqual(actual, expected, what = 'value') {
    const a = JSON.stringify(actual, (_k, v) => typeof v === 'bigint' ? `${v}n` : v);
    const e = JSON.stringify(expected, (_k, v) => typeof v === 'bigint' ? `${v}n` : v);
    if (a !== e)
        throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** Runs fn, which must throw (or reject); returns what it threw. */
export async function assertThrows(fn, what = 'call') {
    try {
        await fn();
    } catch (e) {
        return e;
    }
    throw new Error(`${what} did not throw`);
}

export function assertGenError(error, code) {
    assert(error instanceof GLib.Error, `not a GLib.Error: ${error}`);
    assert(error.domain === GLib.quark_from_string('gen-server-error-quark'),
        `wrong domain ${GLib.quark_to_string(error.domain)}: ${error.message}`);
    assertEqual(error.code, code, `error code (${error.message})`);
    return error;
}

/** Resolves once predicate() holds, letting the main loop run meanwhile. */
export function waitFor(predicate, what = 'condition') {
    return new Promise((resolve, reject) => {
        const deadline = GLib.get_monotonic_time() + DEADLINE_MS * 1000;
        const check = () => {
            if (predicate()) {
                resolve();
                return GLib.SOURCE_REMOVE;
            }
            if (GLib.get_monotonic_time() > deadline) {
                reject(new Error(`${what} not met within ${DEADLINE_MS} ms`));
                return GLib.SOURCE_REMOVE;
            }
            return GLib.SOURCE_CONTINUE;
        };
        // An idle at low priority runs after every pending reply and mailbox
        // source, and keeps checking while the loop has nothing else to do.
        if (check() === GLib.SOURCE_CONTINUE)
            GLib.idle_add(GLib.PRIORITY_LOW, check);
    });
}

/**
 * Runs the tests, one after the other, and exits. Awaited at the end of a
 * test module (`await run()`): while a module's top-level await is pending,
 * GJS iterates this thread's main context itself. A main loop run inside
 * the module instead would stop GJS from running promise jobs, which the
 * module (it imports the helper with a top-level await) depends on.
 */
export async function run() {
    let failed = 0;

    print(`1..${tests.length}`);
    for (const [i, {name, fn}] of tests.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await fn();
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${i + 1} - ${name}`);
            for (const line of `${e}\n${e.stack ?? ''}`.split('\n'))
                print(`# ${line}`);
        }
    }
    System.exit(failed ? 1 : 0);
}
