#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A code lock: Erlang/OTP's own gen_statem example, as a Gen.Statem.

The same program as examples/door.c: buttons are casts, the last buttons
pressed open the door when they match the code, the open state has a state
timeout that locks it again, and a call waiting for the lock is postponed
while the door is open."""

import gi

gi.require_version('Gen', '1')
from gi.repository import Gen  # noqa: E402

OPEN = 0.1  # seconds; Erlang's example uses 10


class Door(Gen.Statem):
    state_enter = True
    cast_type = 's'
    call_type = 's'

    def do_init_state(self, code):
        self.code = code.unpack()
        self.buttons = ''
        return 'locked'

    def do_handle_event(self, event_type, content, state):
        locked = state.unpack() == 'locked'
        if event_type == Gen.StatemEventType.ENTER:
            if locked:
                print("Lock")
                self.buttons = ''
            else:
                print("Unlock")
                self.set_state_timeout(OPEN, 'lock')
        elif event_type == Gen.StatemEventType.CAST and locked:
            self.buttons = (self.buttons + content.unpack())[-len(self.code):]
            if self.buttons == self.code:
                return 'open'
        elif event_type == Gen.StatemEventType.STATE_TIMEOUT:
            return 'locked'
        elif event_type == Gen.StatemEventType.CALL:
            request = content.unpack()
            if request == 'code-length':
                self.reply(len(self.code))
            elif request == 'state':
                self.reply(state)
            elif request == 'wait-locked' and not locked:
                self.postpone()  # asked again once the state changes
            elif request == 'wait-locked':
                self.reply(state)
            else:
                raise ValueError(f"Unknown request {request!r}")
        return None

    def do_terminate(self, reason):
        print("Door stopped.")


door = Door()
door.start('1234')
print(f"Code length: {door.call('code-length')}")

# Casts and calls from one thread are handled in the order sent.
for button in '129':
    door.cast(button)
print(f"State: {door.call('state')}")

for button in '1234':
    door.cast(button)
print(f"State: {door.call('state')}")

print(f"Door is {door.call('wait-locked')} again")
door.stop()
