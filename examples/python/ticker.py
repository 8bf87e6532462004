#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A timer-driven server, called asynchronously from a main loop. The same
program as examples/ticker.c: the ticker ticks every 100 ms with
send_after(), and defers its answer to "wait-for 3" (take_reply()) until
its third tick."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen, GLib, Gio  # noqa: E402

TICK = 0.1  # seconds


class TickerServer(Gen.Server):
    __gtype_name__ = 'TickerServer'
    call_type = '(si)'  # ("wait-for", ticks)
    reply_type = 'i'

    def do_init(self, args):
        self.ticks = 0
        self.waiting = None
        self.send_after('tick', TICK)

    def do_handle_info(self, message):
        if message.unpack() != 'tick':
            return
        self.ticks += 1
        print(f"Tick {self.ticks}", flush=True)
        if self.waiting is not None and self.ticks >= self.wanted:
            self.waiting.return_value(GLib.Variant('i', self.ticks))
            self.waiting = None
        self.send_after('tick', TICK)

    def do_handle_call(self, message):
        command, wanted = message.unpack()
        if command != 'wait-for':
            raise GLib.Error.new_literal(Gen.server_error_quark(),
                                         f"Unknown command “{command}”",
                                         Gen.ServerError.INVALID_MESSAGE)
        if self.ticks >= wanted:
            return self.ticks
        if self.waiting is not None:
            raise GLib.Error.new_literal(Gio.io_error_quark(), "Somebody is waiting already",
                                         Gio.IOErrorEnum.BUSY)
        # Answer later, from do_handle_info.
        self.wanted = wanted
        self.waiting = self.take_reply()
        return None

    def do_terminate(self, reason):
        self.waiting = None
        print("Ticker stopped.", flush=True)


loop = GLib.MainLoop()
ticker = TickerServer()
ticker.start()


def reached(ticks, error):
    # On the main thread, from the main loop.
    if error is not None:
        print(f"ticker: {error.message}", flush=True)
    else:
        print(f"Ticker reached {ticks} ticks.", flush=True)
    loop.quit()


ticker.call_async(('wait-for', 3), reached)
loop.run()
ticker.stop()
