# SPDX-License-Identifier: LGPL-2.1-or-later
"""The OTP layer's newer forms from Python, each named after the case of
Erlang/OTP's own suites that it ports."""

import pytest
from conftest import assert_gen_error

from gi.repository import Gen, GLib


class Ignoring(Gen.Server):
    """Answers Erlang's ignore from init, in the form args names."""

    def do_init(self, args):
        if args.unpack() == 'ignored':
            raise GLib.Error.new_literal(Gen.server_error_quark(), 'not today',
                                         Gen.ServerError.IGNORED)
        # What code written for genserver 1.0 raises.
        raise GLib.Error.new_literal(Gen.Server.ignore_quark(), 'not today either', 0)


@pytest.mark.parametrize('form', ['ignored', '1.0-domain'])
def test_ignored_start_raises_ignored(form):
    # gen_server_SUITE start: init returning ignore.
    server = Ignoring()
    with pytest.raises(GLib.Error) as excinfo:
        server.start(GLib.Variant('s', form))
    assert_gen_error(excinfo, Gen.ServerError.IGNORED)
    assert Gen.Server.is_ignore(excinfo.value)
    assert not server.is_running()



class Worker(Gen.Server):
    """A child that only runs."""

    def do_handle_call(self, message):
        return message


def test_supervisor_simple_one_for_one_forms():
    # supervisor_SUITE count_simple_one_for_one, sofo_restart_child,
    # sofo_delete_child and terminate_child by pid.
    template = Gen.ChildSpec.new('w', Worker.__gtype__, None)
    supervisor = Gen.Supervisor(strategy=Gen.SupervisorStrategy.SIMPLE_ONE_FOR_ONE)
    supervisor.start(Gen.Supervisor.build_args([template]))
    try:
        assert supervisor.count_children().unpack()['specs'] == 1
        child_id = supervisor.start_child_with_args(None)
        counts = supervisor.count_children()
        assert counts.get_type_string() == 'a{su}'
        assert counts.unpack() == {'specs': 1, 'active': 1, 'supervisors': 0, 'workers': 1}

        for refused in (supervisor.restart_child, supervisor.delete_child):
            with pytest.raises(GLib.Error) as excinfo:
                refused(child_id)
            assert 'simple_one_for_one' in assert_gen_error(
                excinfo, Gen.ServerError.INVALID_MESSAGE).message

        child = supervisor.get_child(child_id)
        assert supervisor.terminate_child_server(child)
        assert not child.is_running()
        assert supervisor.dup_child_ids() == []
    finally:
        supervisor.stop()


def test_check_child_specs():
    # supervisor_SUITE check_childspecs.
    good = Gen.ChildSpec.new('a', Worker.__gtype__, None)
    assert Gen.Supervisor.check_child_specs([good])
    twin = Gen.ChildSpec.new('a', Worker.__gtype__, None)
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Supervisor.check_child_specs([good, twin])
    assert_gen_error(excinfo, Gen.ServerError.NAME_TAKEN)
    bad = Gen.ChildSpec.new('b', Worker.__gtype__, None)
    bad.add_property('no-such-property', GLib.Variant('i', 1))
    with pytest.raises(GLib.Error) as excinfo:
        Gen.Supervisor.check_child_specs([bad])
    assert 'no-such-property' in assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE).message
