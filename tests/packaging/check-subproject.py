#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Configures a project that uses genserver as a subproject, and checks that
genserver brings no test, example, benchmark or reference with it.

    check-subproject.py SOURCE_ROOT SCRATCH_DIR
"""
import json
import os
import shutil
import subprocess
import sys

source_root, scratch = sys.argv[1:]
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(os.path.join(scratch, 'subprojects'))
os.symlink(source_root, os.path.join(scratch, 'subprojects', 'genserver'))
with open(os.path.join(scratch, 'meson.build'), 'w') as f:
    f.write("project('parent', 'c')\n"
            "genserver = dependency('genserver-1', fallback: ['genserver', 'genserver_dep'])\n"
            "executable('app', 'app.c', dependencies: genserver)\n")
with open(os.path.join(scratch, 'app.c'), 'w') as f:
    f.write('#include <genserver/genserver.h>\n'
            'int main (void) { return gen_server_get_type () == 0; }\n')

build = os.path.join(scratch, 'build')
# Where genserver is installed, dependency() would find it through
# pkg-config and never use the subproject this checks.
setup = subprocess.run(['meson', 'setup', '--force-fallback-for=genserver-1', build, scratch],
                       capture_output=True, text=True)
if setup.returncode != 0:
    sys.exit(f'meson setup failed:\n{setup.stdout}\n{setup.stderr}')

failures = []
if 'Program erl ' in setup.stdout:
    failures.append('the subproject looked for erl (the benchmarks)')
tests = json.loads(subprocess.run(['meson', 'introspect', '--tests', build],
                                  capture_output=True, text=True, check=True).stdout)
benchmarks = json.loads(subprocess.run(['meson', 'introspect', '--benchmarks', build],
                                       capture_output=True, text=True, check=True).stdout)
failures += [f'test configured: {t["name"]}' for t in tests]
failures += [f'benchmark configured: {b["name"]}' for b in benchmarks]
targets = json.loads(subprocess.run(['meson', 'introspect', '--targets', build],
                                    capture_output=True, text=True, check=True).stdout)
names = {t['name'] for t in targets}
for unwanted in ('counter', 'test-server', 'gentest', 'bench-server', 'genserver-doc'):
    if unwanted in names:
        failures.append(f'target configured: {unwanted}')
if 'genserver-1' not in names:
    failures.append('the library itself is not built')

print('\n'.join(failures) or f'{len(names)} targets, none of them tests, examples, '
      'benchmarks or docs')
sys.exit(1 if failures else 0)
