/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-gjs.h"
#include "gen-gjs-resources.h"

/**
 * gen_gjs_helper_uri:
 *
 * Where GJS programs import genserver's helper module from: promises for
 * calls, plain values as messages, and base classes whose servers run on
 * the main context (see [JavaScript](javascript.html)). The library
 * carries the module as a resource, which this call registers, so it is
 * found wherever the library is, installed or not, with no path to give:
 *
 * ```js
 * import Gen from 'gi://Gen';
 * const GenServer = await import(Gen.gjs_helper_uri());
 * ```
 *
 * (A static `import` cannot take it: modules are fetched before any code
 * runs, so before the library is loaded.)
 *
 * Returns: `resource:///io/github/genserver/gjs/genserver.js`
 *
 * Since: 1.2
 */
const gchar *
gen_gjs_helper_uri (void)
{
  static gsize registered;

  /* Registering twice would link the resource to itself. */
  if (g_once_init_enter (&registered))
    {
      gen_gjs_register_resource ();
      g_once_init_leave (&registered, 1);
    }
  return "resource:///io/github/genserver/gjs/genserver.js";
}
