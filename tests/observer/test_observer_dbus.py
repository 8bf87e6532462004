# SPDX-License-Identifier: LGPL-2.1-or-later
"""The observer's D-Bus interface from Python: against the observed C
program (a second process with a supervision tree), and a Python
program's own servers, exported with Gen.observer_export()."""

import json
import os
import subprocess

import gi

gi.require_version('Gen', '1')

from gi.repository import Gen, Gio, GLib  # noqa: E402

from observed import BUS_NAME, DEADLINE, INTERFACE, PATH, observed, wait_until  # noqa: E402,F401


def proxy_of(observed):
    return Gio.DBusProxy.new_sync(observed.connect(), Gio.DBusProxyFlags.DO_NOT_LOAD_PROPERTIES,
                                  None, BUS_NAME, PATH, INTERFACE, None)


def servers_by_label(proxy):
    """ListServers, keyed by registered name, else child id, else type."""
    servers = {}
    for server in proxy.ListServers():
        label = server['name'] or server.get('child-id') or server['type']
        servers[label] = server
    return servers


def test_list_and_trees(observed):
    proxy = proxy_of(observed)
    servers = servers_by_label(proxy)
    assert set(servers) == {'GenSupervisor', 'counter-a', 'counter-b', 'workers',
                            'worker-1', 'worker-2', 'lonely'}
    app = servers['GenSupervisor']
    assert 'supervisor' not in app and 'supervisor' not in servers['lonely']
    assert servers['counter-a']['supervisor'] == app['id']
    assert servers['workers']['supervisor'] == app['id']
    assert servers['worker-1']['supervisor'] == servers['workers']['id']
    assert servers['worker-1']['scheduler'] == 'pool'
    assert servers['worker-2']['scheduler'] == 'thread'
    assert servers['counter-a']['type'] == 'ObservedCounter'
    assert all(s['status'] == 'running' for s in servers.values())

    process = proxy.GetProcess()
    assert process['pid'] == observed.process.pid
    assert process['program'] == 'observed'
    assert process['servers'] == 7


def test_counters_give_rates(observed):
    proxy = proxy_of(observed)
    counter_a = servers_by_label(proxy)['counter-a']['id']

    def handled():
        now_us, counters = proxy.GetCounters()
        return now_us, {c[0]: c[2] + c[3] + c[4] for c in counters}

    first_us, first = handled()
    # counter-a gets a cast every 10 ms from the observed program's timer.
    wait_until(lambda: handled()[1][counter_a] > first[counter_a] + 5, 'counter-a handling ticks')
    second_us, second = handled()
    assert second_us > first_us
    assert (second[counter_a] - first[counter_a]) * 1e6 / (second_us - first_us) > 0


def test_status(observed):
    proxy = proxy_of(observed)
    lonely = servers_by_label(proxy)['lonely']['id']
    status = proxy.GetStatus('(t)', lonely)
    assert status['name'] == 'lonely'
    assert status['status'] == 'running'
    assert status['state'] == ('count', 0)
    assert status['state-text'] == "('count', int64 0)"

    try:
        proxy.GetStatus('(t)', 123456)
    except GLib.Error as error:
        assert Gio.DBusError.get_remote_error(error) == 'org.freedesktop.DBus.Error.UnknownObject'
    else:
        raise AssertionError('a server that is not there has a status')


def test_suspend_resume(observed):
    proxy = proxy_of(observed)
    counter_a = servers_by_label(proxy)['counter-a']['id']
    proxy.Suspend('(t)', counter_a)
    # The timer's casts pile up in the mailbox of a suspended server.
    wait_until(lambda: servers_by_label(proxy)['counter-a']['mailbox-length'] >= 3, 'mail piling up')
    assert servers_by_label(proxy)['counter-a']['status'] == 'suspended'
    proxy.Resume('(t)', counter_a)
    wait_until(lambda: servers_by_label(proxy)['counter-a']['status'] == 'running', 'resumed')


def test_trace_signals(observed):
    proxy = proxy_of(observed)
    counter_a = servers_by_label(proxy)['counter-a']['id']
    records = []

    def on_signal(proxy, sender, signal, parameters):
        if signal == 'Trace':
            records.append(parameters.unpack())

    proxy.connect('g-signal', on_signal)
    proxy.SetTrace('(tb)', counter_a, True)
    context = GLib.MainContext.default()
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while len(records) < 3:
        assert GLib.get_monotonic_time() < deadline, 'no trace records'
        context.iteration(True)
    proxy.SetTrace('(tb)', counter_a, False)
    assert records[0] == (counter_a, 'ObservedCounter', 'cast', "'tick'", records[0][4])
    assert proxy.GetStatus('(t)', counter_a)['trace'] is False


class PyCounter(Gen.Server):
    def do_init(self, args):
        self.count = 0

    def do_handle_cast(self, message):
        self.count += 1

    def do_handle_call(self, message):
        return GLib.Variant('i', self.count)


def test_python_program_observed_from_another_process(observed):
    """A Python program opts in once; genserver-ctl, another process, sees
    its servers while the program's main thread is busy waiting for it."""
    connection = observed.connect()
    Gen.observer_export(connection)
    counter = PyCounter()
    counter.start(None)
    Gen.Registry.get_default().register('py-counter', counter)
    try:
        for _ in range(5):
            counter.cast('add')
        assert counter.call('get') == 5
        name = connection.get_unique_name()
        listed = subprocess.run([os.environ['GEN_CTL'], '--json', '--bus-name', name, 'list'],
                                env=observed.env, capture_output=True, text=True,
                                timeout=DEADLINE, check=True)
        servers = {s['name']: s for s in json.loads(listed.stdout)}
        assert servers['py-counter']['type'].endswith('PyCounter')
        assert servers['py-counter']['casts'] == 5
        assert servers['py-counter']['calls'] == 1
    finally:
        counter.stop()
        Gen.observer_unexport(connection)
        connection.close_sync(None)
