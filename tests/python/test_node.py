# SPDX-License-Identifier: LGPL-2.1-or-later
"""Gen.Node from Python: a node of this process connects to a C node in
another process (test-node --serve-node) over TLS on loopback and over a
unix socket, and calls its counter by name with the errors of a local
server."""

import os
import shutil
import subprocess

import pytest
from conftest import assert_gen_error, run_loop_until

from gi.repository import Gen, GLib, GObject

SERVICE = os.environ['GEN_TEST_NODE_SERVER']
MAKE_CERTS = os.environ['GEN_TEST_MAKE_CERTS']


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    if shutil.which('openssl') is None:
        pytest.skip('the node tests make certificates with openssl')
    directory = tmp_path_factory.mktemp('certs')
    subprocess.run(['/bin/sh', MAKE_CERTS, str(directory)], check=True)
    return directory


@pytest.fixture(params=['tls', 'unix'])
def node_a(request, tmp_path, certs):
    if request.param == 'tls':
        argv = [SERVICE, '--serve-node', 'tls:host=127.0.0.1,port=0', str(certs)]
    else:
        argv = [SERVICE, '--serve-node', f'unix:path={tmp_path}/a']
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    address = process.stdout.readline().strip()
    assert address.startswith(request.param + ':'), address
    yield process, address
    process.stdin.close()
    process.kill()
    process.wait()


@pytest.fixture
def node_b(certs):
    node = Gen.Node.new('b')
    node.set_tls_credentials_from_files(str(certs / 'b.crt'), str(certs / 'b.key'),
                                        str(certs / 'ca.crt'))
    yield node
    node.close()


def test_call_and_cast_across(node_a, node_b):
    _, address = node_a
    peer = node_b.connect(address, None)
    assert peer == 'a'
    assert node_b.list_peers() == ['a']

    counter = node_b.remote_for_name(peer, 'counter', None)
    assert counter.cast(('add', 5))
    assert counter.call(('get', 0)) == (5, 0)


def test_errors_of_a_local_server(node_a, node_b):
    _, address = node_a
    peer = node_b.connect(address, None)
    counter = node_b.remote_for_name(peer, 'counter', None)

    with pytest.raises(GLib.Error) as excinfo:
        counter.call(('fail', 0))
    assert assert_gen_error(excinfo, Gen.ServerError.FAILED).message == 'asked to fail'
    with pytest.raises(GLib.Error) as excinfo:
        counter.cast('wrong type')
    assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE)
    with pytest.raises(GLib.Error) as excinfo:
        node_b.remote_for_name(peer, 'nobody', None)
    assert_gen_error(excinfo, Gen.ServerError.NOT_FOUND)
    with pytest.raises(GLib.Error) as excinfo:
        node_b.remote_for_name('c', 'counter', None)
    assert_gen_error(excinfo, Gen.ServerError.NO_CONNECTION)


def test_node_down(node_a, node_b):
    process, address = node_a
    peer = node_b.connect(address, None)
    counter = node_b.remote_for_name(peer, 'counter', None)
    downs = []
    node_b.monitor_node(peer, lambda node, name, reason, *_: downs.append((name, reason)))
    signalled = []
    # Gen.Node.connect() connects nodes: signals through GObject's own.
    GObject.Object.connect(node_b, 'node-down',
                           lambda node, name, reason: signalled.append(reason))

    process.kill()
    process.wait()
    run_loop_until(lambda: downs and signalled)
    name, reason = downs[0]
    assert name == 'a'
    assert reason.matches(Gen.server_error_quark(), Gen.ServerError.NO_CONNECTION)
    assert reason.message.startswith('noconnection')
    with pytest.raises(GLib.Error) as excinfo:
        counter.call(('get', 0))
    assert_gen_error(excinfo, Gen.ServerError.NO_CONNECTION)


def test_connect_and_disconnect_take_signals_too(node_a, node_b):
    """Gen.Node.connect() links nodes, but called as GObject's connect (a
    callable second) it connects a signal handler; disconnect() likewise
    takes a handler id, or a peer's name."""
    _, address = node_a
    ups, downs, dropped = [], [], []
    up_id = node_b.connect('node-up', lambda node, name: ups.append(name))
    assert isinstance(up_id, int) and up_id > 0
    node_b.connect('node-down', lambda node, name, reason, tag: downs.append((name, tag)), 'tag')
    dropped_id = node_b.connect('node-down', lambda *_: dropped.append(True))
    node_b.disconnect(dropped_id)
    with pytest.raises(TypeError):
        node_b.connect('no-such-signal', lambda *_: None)

    assert node_b.connect(address) == 'a'
    run_loop_until(lambda: ups)
    assert ups == ['a']
    node_b.disconnect('a')
    run_loop_until(lambda: downs)
    assert downs == [('a', 'tag')]
    assert node_b.list_peers() == []
    assert dropped == []


def test_refused_without_a_valid_certificate(node_a, certs):
    _, address = node_a
    if not address.startswith('tls:'):
        pytest.skip('unix nodes admit by user id')
    rogue = Gen.Node.new('rogue')
    rogue.set_tls_credentials_from_files(str(certs / 'rogue.crt'), str(certs / 'rogue.key'),
                                         str(certs / 'ca.crt'))
    with pytest.raises(GLib.Error):
        rogue.connect(address, None)
    rogue.close()
