# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers of the Python suite. The suite runs uninstalled: meson
points GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH into the tree."""

import threading

import gi
import pytest

gi.require_version('Gen', '1')
gi.require_version('GenTest', '1')

from gi.repository import Gen, GLib  # noqa: E402

# How long to wait for something that should happen at once. Generous: a
# passing test never waits this long.
DEADLINE = 30.0


def assert_gen_error(excinfo, code):
    error = excinfo.value
    assert error.domain == GLib.quark_to_string(Gen.server_error_quark()), error
    assert error.code == int(code), error.message
    return error


def wait_event(event, what="event"):
    assert event.wait(DEADLINE), f"{what} did not happen within {DEADLINE} s"


def wait_until(predicate, what="condition"):
    """Polls predicate() until it holds, failing at the deadline. For
    conditions nothing signals to Python, such as a C server's state."""
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    idle = threading.Event()
    while not predicate():
        assert GLib.get_monotonic_time() < deadline, f"{what} not met in time"
        idle.wait(0.001)


def run_loop_until(predicate, context=None):
    """Iterates the thread-default main context until predicate() holds."""
    context = context or GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not predicate():
        assert GLib.get_monotonic_time() < deadline, "condition not met in time"
        # Blocking iteration: woken by the reply's source, or the guard below.
        guard = GLib.timeout_source_new(100)
        guard.set_callback(lambda *_: False)
        guard.attach(context)
        context.iteration(True)
        guard.destroy()


class Recorder:
    """Thread-safe record of what a server's handlers saw."""

    def __init__(self):
        self.lock = threading.Condition()
        self.events = []

    def add(self, event):
        with self.lock:
            self.events.append(event)
            self.lock.notify_all()

    def wait_for(self, predicate):
        with self.lock:
            assert self.lock.wait_for(lambda: predicate(self.events), DEADLINE), self.events
            return list(self.events)


@pytest.fixture
def servers():
    """Servers to stop at the end of a test, whatever happened."""
    started = []
    yield started
    for server in started:
        if server.is_running():
            try:
                server.stop(DEADLINE)
            except GLib.Error as error:
                # It ended on its own since is_running() looked: a start
                # that timed out ends once its init returns.
                if not error.matches(Gen.server_error_quark(), Gen.ServerError.NOT_RUNNING):
                    raise
