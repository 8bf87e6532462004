# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process that exits with Python servers still running exits cleanly:
exit code 0, no crash, no hang, whatever the servers are doing."""

import subprocess
import sys

import pytest
from conftest import DEADLINE

PROGRAM = r'''
import sys, threading, time
import gi
gi.require_version('Gen', '1')
from gi.repository import Gen, GLib

started = threading.Event()

class Busy(Gen.Server):
    def do_handle_cast(self, message):
        started.set()
        if message.unpack() == 'spin':
            while True:
                sum(range(1000))
        else:
            time.sleep(3600)

    def do_handle_call(self, message):
        return GLib.Variant('s', 'pong')

servers = []
for mode in sys.argv[1:]:
    server = Busy()
    server.start()
    if mode == 'idle':
        assert server.call('ping') == 'pong'
    elif mode == 'waiter':
        # A Python thread waiting in a call to a server busy forever.
        server.cast('sleep')
        started.wait(30)
        threading.Thread(target=server.call, args=('ping',), kwargs={'timeout': None},
                         daemon=True).start()
    else:
        server.cast(mode)
        assert started.wait(30)
        started.clear()
    servers.append(server)
del server
print('exiting', flush=True)
'''


@pytest.mark.parametrize('modes', [
    ['idle'],
    ['spin'],
    ['sleep'],
    ['waiter'],
    ['idle', 'spin', 'sleep', 'waiter'],
])
def test_exit_with_running_servers(modes):
    for _ in range(3):
        result = subprocess.run([sys.executable, '-c', PROGRAM, *modes],
                                capture_output=True, text=True, timeout=DEADLINE)
        assert result.returncode == 0, result.stderr
        assert result.stdout == 'exiting\n'
        assert 'Traceback' not in result.stderr, result.stderr
        assert 'CRITICAL' not in result.stderr, result.stderr
