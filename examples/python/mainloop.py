#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A server on the main context, called from a GLib main loop without
blocking. The same program as examples/mainloop.c: a reply, a call
cancelled while still queued (never handled), and a call that times out
while its handler holds the reply."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib, Gio  # noqa: E402


class GreeterServer(Gen.Server):
    __gtype_name__ = 'GreeterServer'
    call_type = '(ss)'  # ("greet", name) or ("hold", "")
    reply_type = 's'

    def do_init(self, args):
        self.held = None

    def do_handle_call(self, message):
        command, name = message.unpack()
        if command == 'hold':
            # Keep the caller waiting: its timeout answers it.
            self.held = self.take_reply()
            return None
        print(f"Greeting {name}", flush=True)
        return f"Hello, {name}!"

    def do_terminate(self, reason):
        # Every reply taken is answered; this one timed out, and its late
        # answer is dropped.
        if self.held is not None:
            self.held.return_value(GLib.Variant('s', 'too late'))
            self.held = None
        print("Greeter stopped.", flush=True)


loop = GLib.MainLoop()
greeter = GreeterServer(main_context=GLib.MainContext.default())
greeter.start()

try:
    greeter.call(('greet', 'me'))
except GLib.Error as error:
    print(f"Blocking call: {error.message}", flush=True)


def show(what, reply, error):
    print(f"{what}: {reply if error is None else error.message}", flush=True)


def held(reply, error):
    show("Held call", reply, error)
    loop.quit()


def cancelled(reply, error):
    show("Cancelled call", reply, error)
    greeter.call_async(('hold', ''), held, timeout=0.1)


def greeted(reply, error):
    show("Reply", reply, error)
    cancellable = Gio.Cancellable()
    greeter.call_async(('greet', 'nobody'), cancelled, cancellable=cancellable)
    cancellable.cancel()  # still in the mailbox: the handler never sees it


greeter.call_async(('greet', 'main loop'), greeted)
loop.run()

# From the context's own thread, stop handles what is left right here.
greeter.stop()
