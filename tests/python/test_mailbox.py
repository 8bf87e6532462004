# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bounded mailboxes from Python: the same errors as in C."""

import threading

import pytest
from conftest import DEADLINE, assert_gen_error, wait_until

from gi.repository import Gen, GLib


class Sink(Gen.Server):
    def do_init(self, args):
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.handled = 0

    def do_handle_cast(self, message):
        if message.unpack() == 'hold':
            self.holding.set()
            self.gate.wait(DEADLINE)
        self.handled += 1

    def do_handle_call(self, message):
        return GLib.Variant('i', self.handled)


def full_sink(policy, servers):
    sink = Sink(mailbox_capacity=2, mailbox_policy=policy)
    servers.append(sink)
    sink.start()
    sink.cast('hold')
    assert sink.holding.wait(DEADLINE)
    sink.cast('one')
    sink.cast('two')
    return sink


def test_properties():
    sink = Sink(mailbox_capacity=3, mailbox_policy=Gen.MailboxPolicy.BLOCK)
    assert sink.get_mailbox_capacity() == 3
    assert sink.props.mailbox_capacity == 3
    assert sink.get_mailbox_policy() == Gen.MailboxPolicy.BLOCK
    assert Sink().get_mailbox_policy() == Gen.MailboxPolicy.FAIL


def test_fail_policy_raises(servers):
    sink = full_sink(Gen.MailboxPolicy.FAIL, servers)
    with pytest.raises(GLib.Error) as excinfo:
        sink.cast('three')
    assert_gen_error(excinfo, Gen.ServerError.MAILBOX_FULL)
    with pytest.raises(GLib.Error) as excinfo:
        sink.call('count')
    assert_gen_error(excinfo, Gen.ServerError.MAILBOX_FULL)
    sink.gate.set()
    wait_until(lambda: sink.get_mailbox_length() == 0, 'the mailbox to drain')
    assert sink.call('count') == 3
    sink.stop()


def test_block_policy_waits_for_room(servers):
    sink = full_sink(Gen.MailboxPolicy.BLOCK, servers)
    with pytest.raises(GLib.Error) as excinfo:
        sink.cast_with_timeout(GLib.Variant('s', 'three'), 20)
    assert_gen_error(excinfo, Gen.ServerError.MAILBOX_FULL)

    sent = threading.Event()

    def send():
        sink.cast('three')
        sent.set()

    sender = threading.Thread(target=send)
    sender.start()
    assert not sent.wait(0.05)
    sink.gate.set()
    sender.join(DEADLINE)
    assert sent.is_set()
    assert sink.call('count') == 4
    sink.stop()
