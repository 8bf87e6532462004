# SPDX-License-Identifier: LGPL-2.1-or-later
"""The installed layout: `meson install` into a DESTDIR, then Python run as
an installed user runs it, with nothing from the build or source tree."""

import json
import os
import subprocess
import sys
import tempfile

import pytest
from conftest import DEADLINE

BUILD_ROOT = os.environ.get('GEN_BUILD_ROOT')
MESON = os.environ.get('GEN_MESON', 'meson')

PROGRAM = r'''
import sys
import gi
gi.require_version('Gen', '1')
from gi.repository import Gen, GLib
import gi.overrides.Gen

class Counter(Gen.Server):
    def do_init(self, args):
        self.count = 0 if args is None else args.unpack()
    def do_handle_call(self, message):
        self.count += message.unpack()
        return self.count

with Counter() as counter:
    pass
counter.start(40)  # a plain int: only the override takes it
print(counter.call(2))
counter.stop()
print(gi.overrides.Gen.__file__)
print(gi.Repository.get_default().get_typelib_path('Gen'))
print(gi.overrides.Gen._genserver.__file__ if gi.overrides.Gen._genserver else None)
'''


def installed_paths():
    """Where `meson install` puts each built or source file, by name."""
    output = subprocess.run([MESON, 'introspect', '--installed', BUILD_ROOT],
                            check=True, capture_output=True, text=True).stdout
    return {os.path.basename(source): target for source, target in json.loads(output).items()}


@pytest.mark.skipif(BUILD_ROOT is None, reason="needs GEN_BUILD_ROOT (set by meson test)")
def test_installed_override_is_found_where_python_looks():
    paths = installed_paths()
    override = paths['Gen.py']
    site_dir = os.path.dirname(os.path.dirname(os.path.dirname(override)))
    assert override == os.path.join(site_dir, 'gi', 'overrides', 'Gen.py')
    prefix = subprocess.run([MESON, 'introspect', '--buildoptions', BUILD_ROOT],
                            check=True, capture_output=True, text=True).stdout
    prefix = next(option['value'] for option in json.loads(prefix) if option['name'] == 'prefix')
    if prefix in ('/usr', '/usr/local') and sys.executable == '/usr/bin/python3':
        # No environment at all: the folder is one Python searches by itself.
        clean = subprocess.run([sys.executable, '-c', 'import sys; print("\\n".join(sys.path))'],
                               env={}, check=True, capture_output=True, text=True).stdout
        assert site_dir in clean.splitlines(), (site_dir, clean)

    with tempfile.TemporaryDirectory(prefix='genserver-destdir-') as destdir:
        subprocess.run([MESON, 'install', '-C', BUILD_ROOT, '--no-rebuild', '--quiet',
                        '--destdir', destdir, '--tags', 'runtime,typelib,python-runtime'],
                       check=True, capture_output=True, timeout=DEADLINE * 4)

        def staged(path):
            return destdir + path

        assert os.path.isfile(staged(override))
        # What the installed user sets for a prefix outside the system's
        # search paths (see README.md): here the DESTDIR stands for /.
        env = {
            'PATH': '/usr/bin:/bin',
            'PYTHONDONTWRITEBYTECODE': '1',
            'PYTHONPATH': staged(site_dir),
            'GI_TYPELIB_PATH': staged(os.path.dirname(paths['Gen-1.typelib'])),
            'LD_LIBRARY_PATH': staged(os.path.dirname(paths['libgenserver-1.so.0'])),
        }
        result = subprocess.run([sys.executable, '-c', PROGRAM], env=env, cwd=destdir,
                                capture_output=True, text=True, timeout=DEADLINE)
        assert result.returncode == 0, result.stderr
        reply, override_file, typelib, module = result.stdout.splitlines()
        assert reply == '42'
        assert override_file == staged(override)
        assert typelib == staged(paths['Gen-1.typelib'])
        if os.environ.get('GEN_PYTHON_EXTENSION') == '1':
            # The C module installed where extension modules go, which on
            # Debian is the override's folder, and found there.
            assert os.path.dirname(module) == os.path.dirname(staged(override))
