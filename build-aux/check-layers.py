#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that the library's files call down their layers, never up.

Usage: check-layers.py LIBGENSERVER-INTERNAL.a

Reads, with nm, which functions each object file of the static library
defines and which it calls, and fails if a file calls a function defined in
a file of a higher layer (doc/threading.md describes the layers), or if
files call each other in a circle. The one exception is the core's accessor
of the server's private struct and the public vocabulary of gen-server.c
(its type and error domains): every layer may reach those, as GTK's private
headers allow. Calls through a vtable (a scheduler kind's hooks, a mailbox's
wake and drop functions) are not calls to a name, and are not counted.

It also reads the sources next to this script and fails if a file includes
the -private.h header of a file of a higher layer; gen-server-private.h,
the private struct's, is the same exception as above.
"""

import collections
import os
import re
import subprocess
import sys

# The layers, bottom up. A file not named here (a new file of the layers
# above) is taken for the top layer.
LAYERS = {
    0: ['gen-spin', 'gen-mailbox', 'gen-call', 'gen-timer', 'gen-live'],
    1: ['gen-run', 'gen-run-flag', 'gen-trace', 'gen-monitor'],
    2: ['gen-worker-pool', 'gen-scheduler', 'gen-thread-scheduler', 'gen-main-scheduler',
        'gen-pool-scheduler'],
    3: ['gen-server'],
    4: ['gen-server-messaging', 'gen-observe', 'gen-start', 'gen-link', 'gen-reply', 'gen-request'],
    5: ['gen-statem', 'gen-statem-actions', 'gen-supervisor', 'gen-supervisor-engine',
        'gen-supervisor-commands', 'gen-child-spec', 'gen-registry', 'gen-group'],
    6: ['gen-dbus', 'gen-export', 'gen-registry-export', 'gen-remote', 'gen-listener',
        'gen-dbus-listener', 'gen-cast-batch', 'gen-node-peer', 'gen-node-link', 'gen-node',
        'gen-observer', 'gen-gjs'],
}
TOP = 7

# What any layer may use of gen-server.c.
ALLOWED_UP = {
    'gen_server_get_private',
    'gen_server_get_type',
    'gen_server_error_quark',
    'gen_server_ignore_quark',
}

layer_of_file = {name: layer for layer, names in LAYERS.items() for name in names}


def layer(unit):
    return layer_of_file.get(unit, TOP)


def unit_of(member):
    # libgenserver-internal.a members are named gen-run.c.o and the like.
    return member.split('.')[0]


def read_symbols(archive):
    defined = {}
    used = collections.defaultdict(set)
    out = subprocess.run(['nm', '-A', archive], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        # archive:member:[address] type name
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        fields = parts[2].split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        unit = unit_of(parts[1].rsplit('/', 1)[-1])
        if not unit.startswith('gen-'):
            continue
        if kind in ('T', 'D', 'B', 'R'):
            defined[name] = unit
        elif kind == 'U':
            used[unit].add(name)
    return defined, used


def include_problems(srcdir):
    """Includes of a higher layer's -private.h, by .c and -private.h files."""
    problems = []
    units = {name[:-2] for name in os.listdir(srcdir) if name.endswith('.c')}
    for name in sorted(os.listdir(srcdir)):
        if name.endswith('-private.h'):
            unit = name[:-len('-private.h')]
        elif name.endswith('.c'):
            unit = name[:-2]
        else:
            continue
        if unit not in units:
            continue  # a header of several files' (gen-core-private.h)
        with open(os.path.join(srcdir, name), encoding='utf-8') as source:
            included = re.findall(r'^#include "(gen-[a-z0-9-]+)-private\.h"', source.read(),
                                  re.MULTILINE)
        for target in included:
            if target == 'gen-server' or target not in units:
                continue
            if layer(target) > layer(unit):
                problems.append(f'{name} (layer {layer(unit)}) includes {target}-private.h '
                                f'(layer {layer(target)}): an include up')
    return problems


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2

    defined, used = read_symbols(sys.argv[1])
    problems = []
    edges = collections.defaultdict(set)

    for unit, names in sorted(used.items()):
        for name in sorted(names):
            target = defined.get(name)
            if target is None or target == unit:
                continue
            if target == 'gen-server' and name in ALLOWED_UP:
                continue
            if target.startswith('gen-enums') or name.endswith('_get_type'):
                continue
            edges[unit].add(target)
            if layer(target) > layer(unit):
                problems.append(f'{unit}.c (layer {layer(unit)}) calls {name} of '
                                f'{target}.c (layer {layer(target)}): a call up')

    # Circles: strongly connected components of the call graph (Tarjan).
    index = {}
    low = {}
    stack = []
    on_stack = set()
    counter = [0]
    circles = []

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)

    for circle in circles:
        problems.append('files that call each other in a circle: ' +
                        ', '.join(f'{unit}.c' for unit in circle))

    srcdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'genserver')
    problems += include_problems(srcdir)

    for problem in problems:
        print(problem)
    n_units = len(set(defined.values()))
    print(f'{n_units} files, {sum(len(v) for v in edges.values())} calls between files, '
          f'{len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
