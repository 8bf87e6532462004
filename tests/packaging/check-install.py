#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installs the build into a scratch folder and uses it from there, as a user
of an installed genserver would: a C program built with pkg-config, a GJS
program importing the helper module from the folder that genserver-1.pc
names, and Python with the installed override.

    check-install.py BUILD_DIR SCRATCH_DIR
"""
import glob
import os
import shutil
import subprocess
import sys

build, scratch = sys.argv[1:]
shutil.rmtree(scratch, ignore_errors=True)
dest = os.path.join(scratch, 'root')
subprocess.run(['meson', 'install', '-C', build, '--destdir', dest, '--no-rebuild', '--quiet'],
               check=True, stdout=subprocess.DEVNULL)

pcs = glob.glob(os.path.join(dest, '**', 'pkgconfig', 'genserver-1.pc'), recursive=True)
if len(pcs) != 1:
    sys.exit(f'expected one genserver-1.pc under {dest}, found {pcs}')
# The installed .pc, moved with the tree: only its own prefix changes (the
# --define-variable of pkg-config would move GLib's too).
pc_dir = os.path.join(scratch, 'pkgconfig')
os.makedirs(pc_dir)
with open(pcs[0]) as f, open(os.path.join(pc_dir, 'genserver-1.pc'), 'w') as moved:
    for line in f:
        if line.startswith('prefix='):
            line = f'prefix={dest}{line.split("=", 1)[1]}'
        moved.write(line)
env = dict(os.environ, PKG_CONFIG_PATH=pc_dir, LC_ALL='C.UTF-8')
env.pop('GI_TYPELIB_PATH', None)
env.pop('LD_LIBRARY_PATH', None)


def pkg_config(*args):
    return subprocess.run(['pkg-config', *args,
                           'genserver-1'], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


libdir = pkg_config('--variable=libdir')[0]
gjs_moduledir = pkg_config('--variable=gjs_moduledir')[0]
# What an install into a prefix the dynamic linker and GObject
# Introspection do not search needs: see README.md.
env['LD_LIBRARY_PATH'] = libdir
env['GI_TYPELIB_PATH'] = os.path.join(libdir, 'girepository-1.0')

failures = []


def check(name, command, expected):
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or result.stdout != expected or result.stderr:
        failures.append(f'{name}: exit code {result.returncode}\nexpected:\n{expected}\n'
                        f'got:\n{result.stdout}\nstderr:\n{result.stderr}')
    else:
        print(f'{name}: ok')


program_c = os.path.join(scratch, 'installed.c')
with open(program_c, 'w') as f:
    f.write('#include <genserver/genserver.h>\n'
            'int main (void) {\n'
            '  g_print ("%s\\n", g_type_name (GEN_TYPE_SUPERVISOR));\n'
            '  return 0;\n'
            '}\n')
executable = os.path.join(scratch, 'installed')
subprocess.run(['cc', program_c, '-o', executable, *pkg_config('--cflags', '--libs')],
               env=env, check=True)
check('C with pkg-config', [executable], 'GenSupervisor\n')

# Built with introspection, the typelib, the GJS helper and the Python
# override are installed; the interpreters may not be.
has_typelib = os.path.exists(os.path.join(env['GI_TYPELIB_PATH'], 'Gen-1.typelib'))
if not has_typelib:
    print('no typelib (built without introspection): C only')
elif not shutil.which('gjs'):
    print('no gjs: the GJS helper is not tried')
elif os.path.exists(os.path.join(gjs_moduledir, 'genserver.js')):
    program_js = os.path.join(scratch, 'installed.js')
    with open(program_js, 'w') as f:
        # A program configured with the pkg-config variable, as a Meson
        # project does with configure_file().
        f.write(f"import * as GenServer from 'file://{gjs_moduledir}/genserver.js';\n"
                "import GLib from 'gi://GLib';\n"
                "import GObject from 'gi://GObject';\n"
                "const Echo = GObject.registerClass(class Echo extends GenServer.Server {\n"
                "    vfunc_handle_call(message) { return message; }\n"
                "});\n"
                "const echo = new Echo();\n"
                "echo.start(null);\n"
                "print(await GenServer.call(echo, 'installed'));\n"
                "echo.stop(-1);\n")
    check('GJS helper from gjs_moduledir', ['gjs', '-m', program_js], 'installed\n')
    # And as programs import it, from the installed library itself.
    resource_js = os.path.join(scratch, 'resource.js')
    with open(resource_js, 'w') as f:
        f.write("import Gen from 'gi://Gen';\n"
                "const GenServer = await import(Gen.gjs_helper_uri());\n"
                "const echo = new GenServer.Server();\n"
                "echo.start();\n"
                "print(GenServer.DEFAULT_TIMEOUT);\n"
                "echo.stop();\n")
    check('GJS helper from the library', ['gjs', '-m', resource_js], '5000\n')
else:
    failures.append(f'no GJS helper in {gjs_moduledir}')

overrides = glob.glob(os.path.join(dest, '**', 'gi', 'overrides', 'Gen.py'), recursive=True)
has_pygobject = subprocess.run(['/usr/bin/python3', '-c', 'import gi'],
                               capture_output=True).returncode == 0
if has_typelib and has_pygobject and not overrides:
    failures.append('no Python override installed')
elif has_typelib and has_pygobject:
    env['PYTHONPATH'] = os.path.dirname(os.path.dirname(os.path.dirname(overrides[0])))
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    check('Python override', ['/usr/bin/python3', '-c',
                              "import gi\n"
                              "gi.require_version('Gen', '1')\n"
                              "from gi.repository import Gen\n"
                              "class Echo(Gen.Server):\n"
                              "    def do_handle_call(self, message):\n"
                              "        return message\n"
                              "echo = Echo()\n"
                              "echo.start()\n"
                              "print(echo.call('installed'))\n"
                              "echo.stop()\n"], 'installed\n')

print('\n'.join(failures))
sys.exit(1 if failures else 0)
