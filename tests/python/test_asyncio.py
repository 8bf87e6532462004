# SPDX-License-Identifier: LGPL-2.1-or-later
"""asyncio and plain scripts, with no GLib main loop: acall without a
thread per call, cancelled with its task; join and ajoin; monitors."""

import asyncio
import threading

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error, wait_event

from gi.repository import Gen, GLib


class Gathering:
    """Holds every call's reply until ``expected`` calls are in, then
    answers them all: only calls that are all in flight at once finish."""

    def __init__(self, expected):
        self.expected = expected
        self.lock = threading.Lock()
        self.held = []
        self.most_held = 0

    def take(self, reply, value):
        with self.lock:
            self.held.append((reply, value))
            self.most_held = max(self.most_held, len(self.held))
            if len(self.held) < self.expected:
                return
            held, self.held = self.held, []
        for reply, value in held:
            reply.return_value(value)


class Holder(Gen.Server):
    call_type = 'i'

    def do_handle_call(self, message):
        self.gathering.take(self.take_reply(), message.unpack())


def test_a_thousand_concurrent_acalls_to_pool_servers(servers):
    pool = Gen.Scheduler.new_pool(2)
    gathering = Gathering(1000)
    holders = []
    for _ in range(100):
        holder = Holder(scheduler=pool)
        holder.gathering = gathering
        holder.start()
        servers.append(holder)
        holders.append(holder)
    threads_before = threading.active_count()
    seen_threads = []

    async def main():
        calls = [holders[i % 100].acall(i, timeout=None) for i in range(1000)]

        async def watch():
            while True:
                seen_threads.append(threading.active_count())
                await asyncio.sleep(0.01)

        watcher = asyncio.ensure_future(watch())
        try:
            # The bound is generous: the calls cost about one handler.
            return await asyncio.wait_for(asyncio.gather(*calls), DEADLINE)
        finally:
            watcher.cancel()

    started = GLib.get_monotonic_time()
    replies = asyncio.run(main())
    elapsed = (GLib.get_monotonic_time() - started) / 1e6
    assert replies == list(range(1000))
    assert gathering.most_held == 1000
    assert elapsed < DEADLINE
    # One helper thread at most, never one per call.
    assert max(seen_threads) <= threads_before + 1, (threads_before, max(seen_threads))


class Gate(Gen.Server):
    """('block', n) waits on the gate; every call is recorded."""
    call_type = '(si)'

    def do_init(self, args):
        self.recorder = Recorder()
        self.gate = threading.Event()

    def do_handle_call(self, message):
        action, number = message.unpack()
        self.recorder.add(number)
        if action == 'block':
            wait_event(self.gate, "gate")
        return number


@pytest.fixture
def gate(servers):
    server = Gate()
    server.start()
    servers.append(server)
    yield server
    server.gate.set()


def test_cancelling_the_task_cancels_a_queued_call(gate):
    async def main():
        blocked = asyncio.ensure_future(gate.acall(('block', 1)))
        while gate.recorder.events != [1]:
            await asyncio.sleep(0.001)
        queued = asyncio.ensure_future(gate.acall(('get', 2), timeout=None))
        await asyncio.sleep(0)  # let it be sent
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        gate.gate.set()
        assert await blocked == 1
        # Per-sender order: call 2 would have run before call 3.
        assert await gate.acall(('get', 3)) == 3

    asyncio.run(main())
    assert gate.recorder.events == [1, 3]
    assert gate.is_running()


def test_cancelling_a_running_call_drops_its_reply(gate):
    async def main():
        running = asyncio.ensure_future(gate.acall(('block', 1)))
        while gate.recorder.events != [1]:
            await asyncio.sleep(0.001)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        gate.gate.set()
        return await gate.acall(('get', 2))

    assert asyncio.run(main()) == 2


def test_acall_timeout_is_in_seconds(gate):
    async def main():
        blocked = asyncio.ensure_future(gate.acall(('block', 1)))
        while gate.recorder.events != [1]:
            await asyncio.sleep(0.001)
        with pytest.raises(GLib.Error) as excinfo:
            await gate.acall(('get', 2), timeout=0.05)
        gate.gate.set()
        await blocked
        return excinfo.value

    error = asyncio.run(main())
    assert error.code == int(Gen.ServerError.TIMEOUT)
    assert gate.call(('get', 3)) == 3
    assert gate.recorder.events == [1, 3]  # the timed-out call never ran


# areply: Gen.Request.wait_async ----------------------------------------------

def test_a_thousand_concurrent_areplies_take_no_thread_each(servers):
    pool = Gen.Scheduler.new_pool(2)
    gathering = Gathering(1000)
    holders = []
    for _ in range(100):
        holder = Holder(scheduler=pool)
        holder.gathering = gathering
        holder.start()
        servers.append(holder)
        holders.append(holder)
    threads_before = threading.active_count()
    seen_threads = []

    async def main():
        requests = [holders[i % 100].send_request(i) for i in range(1000)]

        async def watch():
            while True:
                seen_threads.append(threading.active_count())
                await asyncio.sleep(0.01)

        watcher = asyncio.ensure_future(watch())
        try:
            return await asyncio.wait_for(
                asyncio.gather(*(request.areply(None) for request in requests)), DEADLINE)
        finally:
            watcher.cancel()

    assert asyncio.run(main()) == list(range(1000))
    # One helper thread at most, never one per wait (an executor's would
    # show here).
    assert max(seen_threads) <= threads_before + 1, (threads_before, max(seen_threads))


def test_areply_timeout_leaves_the_request_pending(gate):
    async def main():
        blocked = asyncio.ensure_future(gate.acall(('block', 1)))
        while gate.recorder.events != [1]:
            await asyncio.sleep(0.001)
        request = gate.send_request(('get', 2))
        with pytest.raises(GLib.Error) as excinfo:
            await request.areply(0.05)
        gate.gate.set()
        await blocked
        return excinfo.value, await request.areply(DEADLINE), await request.areply(0)

    error, reply, again = asyncio.run(main())
    assert error.code == int(Gen.ServerError.TIMEOUT)
    assert reply == again == 2
    assert gate.recorder.events == [1, 2]  # a timed-out wait leaves the call


def test_cancelling_areply_ends_only_the_wait(gate):
    async def main():
        blocked = asyncio.ensure_future(gate.acall(('block', 1)))
        while gate.recorder.events != [1]:
            await asyncio.sleep(0.001)
        request = gate.send_request(('get', 2))
        waiting = asyncio.ensure_future(request.areply(None))
        await asyncio.sleep(0)  # let the wait begin
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        gate.gate.set()
        await blocked
        return await request.areply(DEADLINE, unpack=False)

    reply = asyncio.run(main())
    assert isinstance(reply, GLib.Variant) and reply.unpack() == 2


def test_areply_cancelled_before_its_wait_began(gate):
    """A task cancelled before the helper thread began its wait: the wait
    never begins, so an areply right after it is not refused as a second
    wait under way (PENDING), however late the helper thread runs."""
    held, hold = threading.Event(), threading.Event()

    def hold_the_helper(*_args):
        held.set()
        wait_event(hold, "the helper's release")

    other = Gate()
    other.start()
    other.monitor(hold_the_helper, threaded=True)
    other.stop()
    wait_event(held, "the helper held")

    async def main():
        request = gate.send_request(('get', 2))
        waiting = asyncio.ensure_future(request.areply(None))
        await asyncio.sleep(0)  # its wait is handed to the held helper
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        again = asyncio.ensure_future(request.areply(DEADLINE))
        await asyncio.sleep(0)  # handed over too, behind the first
        hold.set()
        return await again

    assert asyncio.run(main()) == 2


def test_areply_of_a_server_that_ends_first(servers):
    # The stop handles the request first: its handler takes the reply and
    # holds it, and the end of the run answers it STOPPED.
    holder = Holder()
    holder.gathering = Gathering(2)
    holder.start()

    async def main():
        request = holder.send_request(1)
        waiting = asyncio.ensure_future(request.areply(None))
        await asyncio.sleep(0)  # let the wait begin
        holder.stop(DEADLINE)
        with pytest.raises(GLib.Error) as excinfo:
            await waiting
        return excinfo.value

    error = asyncio.run(main())
    assert error.code == int(Gen.ServerError.STOPPED)


# join and ajoin ---------------------------------------------------------------

class Worker(Gen.Server):
    def do_handle_cast(self, message):
        what = message.unpack()
        if what == 'crash':
            raise KeyError('crashed')
        if what == 'stop':
            self.stop()


def test_join_waits_for_a_stop_from_elsewhere(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)
    worker.cast('stop')  # the server stops itself once it gets there
    assert worker.join() is None
    assert not worker.is_running()


def test_join_returns_the_crash(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)
    worker.cast('crash')
    reason = worker.join(DEADLINE)
    assert reason.matches(Gen.server_error_quark(), Gen.ServerError.FAILED)
    assert reason.message == "KeyError: 'crashed'"
    assert isinstance(reason.__cause__, KeyError)
    # Joined again after the end: the same reason, at once.
    assert worker.join(0).message == "KeyError: 'crashed'"


def test_join_after_the_end_needs_no_monitor(servers):
    """The core tells monitors before the status says stopped: a join in
    that window, after another join was told, returns the reason at once,
    without a monitor that a zero timeout would give up on."""
    worker = Worker()
    worker.start()
    worker.cast('crash')
    reason = worker.join(DEADLINE)

    def no_monitor(*args, **kwargs):
        raise AssertionError("join() set up a monitor for a run that is over")

    worker.get_run_status = lambda: 'stopping'  # the window, held open
    worker.monitor = no_monitor
    for again in (worker.join(0), asyncio.run(worker.ajoin())):
        assert again.message == reason.message == "KeyError: 'crashed'"
        assert again.__cause__ is reason.__cause__


class SlowToEnd(Worker):
    """Its run's end waits for ``release`` after do_terminate, before the
    core tells the run's links and monitors."""

    def do_init(self, args):
        self.ending = threading.Event()
        self.release = threading.Event()

        def hold(server, reason):
            self.ending.set()
            wait_event(self.release, "the release")

        self.add_run_end_func(hold)


def test_join_waits_for_the_links_of_an_ended_run(servers):
    """After do_terminate the core still tells the run's links and
    monitors: a join waits for them too, so that who joined a crashed
    server finds the servers linked to it signalled. (A join that returned
    once do_terminate was done let a linked server take one more cast.)"""
    worker, partner = SlowToEnd(), Worker()
    worker.start()
    partner.start()
    servers.append(partner)
    worker.link(partner)
    worker.cast('crash')
    wait_event(worker.ending, "the run's end")
    with pytest.raises(TimeoutError):
        worker.join(0)
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(worker.ajoin(), 0.01))
    worker.release.set()
    assert worker.join(DEADLINE).message == "KeyError: 'crashed'"
    with pytest.raises(GLib.Error) as excinfo:
        partner.cast('more')
    assert_gen_error(excinfo, Gen.ServerError.NOT_RUNNING)


def test_join_times_out(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)
    with pytest.raises(TimeoutError):
        worker.join(0.01)
    assert worker.is_running()
    assert worker.stop()
    assert worker.join(0) is None
    assert Worker().join(0) is None  # never started


def test_ajoin(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)

    async def main():
        joined = asyncio.ensure_future(worker.ajoin())
        await asyncio.sleep(0)
        assert not joined.done()
        worker.cast('crash')
        return await asyncio.wait_for(joined, DEADLINE)

    reason = asyncio.run(main())
    assert isinstance(reason.__cause__, KeyError)

    async def cancelled():
        worker.start()
        joined = asyncio.ensure_future(worker.ajoin())
        await asyncio.sleep(0)
        joined.cancel()
        with pytest.raises(asyncio.CancelledError):
            await joined
        worker.stop()
        return await worker.ajoin()

    assert asyncio.run(cancelled()) is None


# Monitors without a GLib main loop -------------------------------------------------

def test_monitor_in_an_asyncio_program_runs_on_its_loop(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)

    async def main():
        loop_thread = threading.get_ident()
        notices = asyncio.Queue()
        worker.monitor(lambda server, reason, tag: notices.put_nowait(
            (server, reason, tag, threading.get_ident())), 'tag')
        worker.cast('crash')
        notice = await asyncio.wait_for(notices.get(), DEADLINE)
        return notice, loop_thread

    (server, reason, tag, thread), loop_thread = asyncio.run(main())
    assert server is worker
    assert isinstance(reason.__cause__, KeyError)
    assert tag == 'tag'
    assert thread == loop_thread


def test_threaded_monitor_needs_no_loop(servers):
    worker = Worker()
    worker.start()
    servers.append(worker)
    stopped = threading.Event()
    reasons = []
    monitor_id = worker.monitor(lambda server, reason: (reasons.append(reason), stopped.set()),
                                threaded=True)
    assert monitor_id > 0
    worker.stop()
    wait_event(stopped, "the monitor notice")
    assert reasons == [None]
