// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Where the reference's links to other namespaces go: gi-docgen's pages
// resolve a link to, say, GLib.Variant against the base URL listed here.
// Every namespace the GIR includes must be listed, or its links are dead
// (tests/check-doc-links.py checks this).
baseURLs = [
    ['GLib', 'https://docs.gtk.org/glib/'],
    ['GModule', 'https://docs.gtk.org/gmodule/'],
    ['GObject', 'https://docs.gtk.org/gobject/'],
    ['Gio', 'https://docs.gtk.org/gio/'],
]
