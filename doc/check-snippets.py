#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that the code in a documentation page is the real example code.

    check-snippets.py SOURCE_ROOT [--marked-only] PAGE.md...

Every fenced code block but shell commands (```sh) follows a line
<!-- example: PATH -->, PATH relative to SOURCE_ROOT (after --marked-only,
the pages' other blocks are not checked); the block is PATH's
text, in pieces separated by elision lines ("...", "/* ... */", "// ...",
"# ..."): each piece must appear in PATH, in order. The example programs
are run by the suite, so a page that passes shows code that runs.
"""
import os
import re
import sys

ELISION = {'...', '/* ... */', '// ...', '# ...'}
FENCE = re.compile(r'^```(\w*)\s*$')
MARKER = re.compile(r'^<!--\s*example:\s*(\S+)\s*-->\s*$')


def pieces(lines):
    piece = []
    for line in lines:
        if line.strip() in ELISION:
            if piece:
                yield piece
            piece = []
        else:
            piece.append(line)
    if piece:
        yield piece


def check_page(root, page, marked_only):
    failures = []
    checked = 0
    with open(page, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    previous = ''
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        start = i + 1
        i = start
        while i < len(lines) and lines[i].rstrip() != '```':
            i += 1
        block = lines[start:i]
        i += 1
        where = f'{page}:{start}'
        if fence.group(1) == 'sh':
            continue
        marker = MARKER.match(previous)
        previous = ''
        if not marker and marked_only:
            continue
        if not marker:
            failures.append(f'{where}: code block without <!-- example: PATH --> before it')
            continue
        path = os.path.join(root, marker.group(1))
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except FileNotFoundError:
            failures.append(f'{where}: no such example {marker.group(1)}')
            continue
        position = 0
        for piece in pieces(block):
            found = text.find('\n'.join(piece), position)
            if found < 0:
                failures.append(f'{where}: not in {marker.group(1)} (after its '
                                f'offset {position}):\n' + '\n'.join(piece))
                break
            position = found + len('\n'.join(piece))
        checked += 1
    return checked, failures


def main():
    root, pages = sys.argv[1], sys.argv[2:]
    total = 0
    failures = []
    marked_only = False
    for page in pages:
        if page == '--marked-only':
            marked_only = True
            continue
        checked, page_failures = check_page(root, page, marked_only)
        total += checked
        failures += page_failures
    print('\n\n'.join(failures))
    print(f'{total} code blocks checked, {len(failures)} wrong')
    sys.exit(1 if failures or not total else 0)


if __name__ == '__main__':
    main()
