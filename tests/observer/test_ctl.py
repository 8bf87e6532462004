# SPDX-License-Identifier: LGPL-2.1-or-later
"""genserver-ctl against a real second process: the observed program with
its known supervision tree, reached by bus name, PID and unix socket;
`top` driven in tmux and its screen read back."""

import json
import os
import signal
import subprocess
import uuid

from observed import BUS_NAME, DEADLINE, observed, wait_until  # noqa: F401

CTL = os.environ['GEN_CTL']


def ctl(observed, *args, check=True):
    result = subprocess.run([CTL, *args], env=observed.env, capture_output=True, text=True,
                            timeout=DEADLINE)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_reaches_the_process_every_way(observed):
    ways = [[], ['--pid', str(observed.process.pid)], ['--bus-name', BUS_NAME],
            ['--socket', observed.socket]]
    for way in ways:
        servers = json.loads(ctl(observed, *way, '--json', 'list').stdout)
        assert len(servers) == 7, way
        assert {s['name'] for s in servers} >= {'counter-a', 'lonely'}


def test_list_and_tree(observed):
    listed = ctl(observed, 'list').stdout.splitlines()
    assert listed[0].split() == ['ID', 'NAME', 'TYPE', 'STATUS', 'SCHEDULER', 'MAILBOX', 'HANDLED']
    rows = {line.split()[1]: line.split() for line in listed[1:]}
    assert rows['worker-1'][2:5] == ['ObservedCounter', 'running', 'pool']

    tree = ctl(observed, 'tree').stdout
    lines = [line.split('  (')[0] for line in tree.splitlines()]
    assert lines == ['GenSupervisor', '├── counter-a', '├── counter-b', '└── workers',
                     '    ├── worker-1', '    └── worker-2', 'lonely'], tree

    roots = json.loads(ctl(observed, '--json', 'tree').stdout)
    assert [r['type'] for r in roots] == ['GenSupervisor', 'ObservedCounter']
    workers = roots[0]['children'][2]
    assert [c['child-id'] for c in workers['children']] == ['worker-1', 'worker-2']


def test_status(observed):
    text = ctl(observed, 'status', 'lonely').stdout
    assert 'status           running' in text
    assert "state-text       ('count', int64 0)" in text
    status = json.loads(ctl(observed, '--json', 'status', 'lonely').stdout)
    assert status['state'] == ['count', 0]
    assert status['scheduler'] == 'thread'

    missing = ctl(observed, 'status', 'nobody', check=False)
    assert missing.returncode == 1
    assert 'No server “nobody”' in missing.stderr
    # Four ObservedCounters by type: a name that does not name one server.
    ambiguous = ctl(observed, 'status', 'ObservedCounter', check=False)
    assert ambiguous.returncode == 1 and 'servers answer to' in ambiguous.stderr


def test_suspend_and_resume(observed):
    ctl(observed, 'suspend', 'counter-a')
    status = json.loads(ctl(observed, '--json', 'status', 'counter-a').stdout)
    assert status['status'] == 'suspended' and status['suspended'] is True
    ctl(observed, 'resume', 'counter-a')
    status = json.loads(ctl(observed, '--json', 'status', 'counter-a').stdout)
    assert status['status'] == 'running'


def test_trace_follows_until_interrupted(observed):
    follow = subprocess.Popen([CTL, '--json', 'trace', 'counter-a'], env=observed.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        records = [json.loads(follow.stdout.readline()) for _ in range(3)]
    finally:
        follow.send_signal(signal.SIGINT)
    assert follow.wait(DEADLINE) == 0
    for record in records:
        assert record[1:4] == ['ObservedCounter', 'cast', "'tick'"]
    # Interrupted, it turned tracing off again.
    status = json.loads(ctl(observed, '--json', 'status', 'counter-a').stdout)
    assert status['trace'] is False


class Tmux:
    """A tmux server of the test's own, one window of a known size."""

    def __init__(self, env):
        self.socket = f'genserver-ctl-{uuid.uuid4().hex[:8]}'
        self.env = env

    def run(self, *args):
        return subprocess.run(['tmux', '-L', self.socket, *args], env=self.env,
                              capture_output=True, text=True, timeout=DEADLINE, check=True).stdout

    def screen(self):
        return self.run('capture-pane', '-p', '-t', 'top')

    def wait_screen(self, predicate, what):
        wait_until(lambda: predicate(self.screen()), what)
        return self.screen()


def test_top_in_tmux(observed):
    tmux = Tmux(observed.env)
    tmux.run('-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', '120', '-y', '30',
             '-e', f'DBUS_SESSION_BUS_ADDRESS={observed.address}',
             f'{CTL} --interval 200 top; echo top-exited; sleep 600')
    try:
        screen = tmux.wait_screen(lambda s: 'sorted by mailbox' in s and 'lonely' in s, 'top drawn')
        assert f'(pid {observed.process.pid}), 7 servers' in screen
        assert 'MAILBOX' in screen and 'MSG/S' in screen

        # A suspended counter-a keeps getting ticks: its mailbox grows and it
        # goes to the top of the view sorted by mailbox.
        ctl(observed, 'suspend', 'counter-a')

        def first_row(screen):
            lines = screen.splitlines()
            header = next(i for i, line in enumerate(lines) if line.lstrip().startswith('ID'))
            return lines[header + 1].split()

        screen = tmux.wait_screen(lambda s: first_row(s)[1] == 'counter-a' and int(first_row(s)[5]) > 5,
                                  'counter-a first by mailbox')
        assert first_row(screen)[3] == 'suspended'

        # Resumed, it handles its ticks: by rate it is first again, with a rate.
        ctl(observed, 'resume', 'counter-a')
        tmux.run('send-keys', '-t', 'top', 'r')
        screen = tmux.wait_screen(lambda s: 'sorted by rate' in s and first_row(s)[1] == 'counter-a'
                                  and first_row(s)[6] not in ('-', '0'), 'counter-a first by rate')
        assert float(first_row(screen)[6]) > 0

        tmux.run('send-keys', '-t', 'top', 'q')
        tmux.wait_screen(lambda s: 'top-exited' in s, 'top quit')
    finally:
        tmux.run('kill-server')
