#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails on a dead link in the built API reference.

    check-links.py OUTPUT_DIR [--known-dead 'PAGE -> TARGET']...

An internal link (href or src) must reach a file of the reference and, if it
has a fragment, an element with that id. A link to another namespace is
written by gi-docgen as href="javascript:void(0)" data-namespace="GLib",
resolved in the browser from urlmap.js: its namespace must be listed there.
A --known-dead link must be dead, so that the list cannot outlive its fix.
"""
import argparse
import html.parser
import os
import re
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []          # (target, data-namespace or None)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ('id', 'name'):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ('href', 'src'):
            if name in attrs and not (tag == 'a' and name == 'src'):
                self.links.append((attrs[name] or '', attrs.get('data-namespace'),
                                   attrs.get('data-link')))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('output')
    parser.add_argument('--known-dead', action='append', default=[])
    options = parser.parse_args()

    pages = {}
    for root, _, names in os.walk(options.output):
        for name in names:
            if name.endswith('.html'):
                path = os.path.join(root, name)
                page = Page()
                with open(path, encoding='utf-8') as f:
                    page.feed(f.read())
                pages[os.path.relpath(path, options.output)] = page
    if 'index.html' not in pages:
        sys.exit(f'{options.output}: no index.html')

    try:
        with open(os.path.join(options.output, 'urlmap.js'), encoding='utf-8') as f:
            mapped = set(re.findall(r"\[\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]https?://", f.read()))
    except FileNotFoundError:
        mapped = set()

    dead = []
    checked = 0
    for page_name, page in sorted(pages.items()):
        base = os.path.dirname(page_name)
        for target, namespace, data_link in page.links:
            checked += 1
            if target.startswith('javascript:'):
                if namespace is None:
                    dead.append((page_name, target, 'a script link with no namespace'))
                elif namespace not in mapped:
                    dead.append((page_name, f'{namespace}/{data_link}',
                                 f'namespace {namespace} not in urlmap.js'))
                continue
            url = urllib.parse.urlsplit(target)
            if url.scheme or url.netloc:
                continue         # another site: not checked, there is no network
            if not url.path and not url.fragment:
                dead.append((page_name, target, 'an empty link'))
                continue
            path = os.path.normpath(os.path.join(base, urllib.parse.unquote(url.path))) \
                if url.path else page_name
            if not os.path.exists(os.path.join(options.output, path)):
                dead.append((page_name, target, 'no such file'))
            elif url.fragment and path.endswith('.html') and \
                    url.fragment not in pages[path].ids:
                dead.append((page_name, target, f'no id “{url.fragment}” in {path}'))

    known = list(options.known_dead)
    failed = False
    for page_name, target, why in dead:
        if f'{page_name} -> {target}' in known:
            known.remove(f'{page_name} -> {target}')
            print(f'known dead: {page_name} -> {target} ({why})')
            continue
        print(f'dead: {page_name} -> {target} ({why})')
        failed = True
    for link in sorted(known):
        print(f'not dead any more, remove --known-dead: {link}')
        failed = True
    print(f'{checked} links in {len(pages)} pages, {len(dead)} dead')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
