# SPDX-License-Identifier: LGPL-2.1-or-later
"""The OTP layer's newer forms from Python: an ignored start, ..."""

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

