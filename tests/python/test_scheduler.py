# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python servers on a pool scheduler: the same server code, no thread of
their own, every guarantee kept."""

import threading

import pytest
from conftest import assert_gen_error, wait_until

from gi.repository import Gen, GLib


class Counter(Gen.Server):
    cast_type = 'i'

    def do_init(self, args):
        self.count = args.unpack() if args is not None else 0
        self.threads = set()

    def do_handle_cast(self, message):
        self.threads.add(threading.get_ident())
        self.count += message.unpack()

    def do_handle_call(self, message):
        what = message.unpack()
        if what == 'thread':
            return GLib.Variant('x', threading.get_ident())
        if what == 'fail':
            raise ValueError('no such thing')
        return GLib.Variant('i', self.count)


@pytest.fixture
def pool():
    return Gen.Scheduler.new_pool(2)


def test_default_pool_is_shared():
    pool = Gen.Scheduler.get_default()
    assert pool is Gen.Scheduler.get_default()
    assert pool.get_n_workers() == GLib.get_num_processors()
    assert pool.props.n_workers == GLib.get_num_processors()


def test_python_server_on_a_pool(pool, servers):
    server = Counter(scheduler=pool)
    servers.append(server)
    assert server.get_scheduler() is pool
    server.start(40)
    for _ in range(100):
        server.cast(1)
    # Per-sender order: the call comes after the casts.
    assert server.call('get') == 140
    with pytest.raises(ValueError, match='no such thing'):
        server.call('fail')
    assert server.is_running()
    assert server.stop()
    assert not server.is_running()


def test_call_without_deadline_runs_on_the_callers_thread(pool, servers):
    server = Counter(scheduler=pool)
    servers.append(server)
    server.start(0)
    assert server.call('thread', timeout=None) == threading.get_ident()
    assert server.call('thread', timeout=5.0) != threading.get_ident()
    server.stop()


def test_many_python_servers_share_two_workers(pool, servers):
    many = [Counter(scheduler=pool) for _ in range(200)]
    servers.extend(many)
    for i, server in enumerate(many):
        server.start(i)
    for server in many:
        server.cast(1)
    for i, server in enumerate(many):
        assert server.call('get') == i + 1
    threads = set()
    for server in many:
        threads |= server.threads
        server.stop()
    # A thread per server would be 200.
    assert len(threads) <= 2 + 4


def test_calling_self_on_a_pool(pool, servers):
    class Selfish(Gen.Server):
        def do_handle_call(self, message):
            try:
                self.call('again', timeout=None)
            except GLib.Error as error:
                return GLib.Variant('i', error.code)
            return GLib.Variant('i', -1)

    server = Selfish(scheduler=pool)
    servers.append(server)
    server.start()
    assert server.call('go') == int(Gen.ServerError.CALLING_SELF)
    server.stop()


def test_crash_on_a_pool_is_reported(pool, servers):
    stopped = threading.Event()
    reasons = []

    class Fragile(Gen.Server):
        def do_handle_cast(self, message):
            raise RuntimeError('boom')

    server = Fragile(scheduler=pool)
    servers.append(server)
    server.start()

    def on_stop(server, reason):
        reasons.append(reason)
        stopped.set()

    context = GLib.MainContext.default()
    server.monitor(on_stop)
    server.cast('x')
    wait_until(lambda: (context.iteration(False), stopped.is_set())[1], 'the monitor notice')
    assert reasons and reasons[0] is not None
    assert 'boom' in reasons[0].message
    assert not server.is_running()


def test_not_running_on_a_pool(pool):
    server = Counter(scheduler=pool)
    with pytest.raises(GLib.Error) as excinfo:
        server.call('get')
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)
