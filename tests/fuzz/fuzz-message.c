/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The message path: random serialised GVariants, untrusted or trusted,
 * cast, sent as info and called to running servers of every kind.
 *
 * Input: a flags byte (bit 0: trusted), a GVariant type string ending in
 * NUL, then the serialised bytes. */

#include "fuzz-common.h"

static GenServer *servers[4]; /* started once; never stopped */
static GMainContext *context;
static gint context_owned;    /* atomic boolean */

/* Owns the context for good, from before the server on it starts: else
 * start() would run init on this program's thread, which the server would
 * then take for the one that runs its context, and a call from there could
 * be refused as CALLING_SELF whenever the context is between iterations. */
static gpointer
context_thread_main (gpointer data)
{
  g_main_context_acquire (context);
  g_main_context_push_thread_default (context);
  g_atomic_int_set (&context_owned, TRUE);
  for (;;)
    g_main_context_iteration (context, TRUE);
  return NULL;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;

  g_log_set_handler ("Gen", G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR, fuzz_quiet, NULL);

  context = g_main_context_new ();
  g_thread_unref (g_thread_new ("context", context_thread_main, NULL));
  while (!g_atomic_int_get (&context_owned))
    g_thread_yield ();

  /* Any type, on its own thread and on a context another thread runs; a
   * typed one; and GenServer itself, with its default handlers. */
  servers[0] = g_object_new (fuzz_server_get_type (), NULL);
  servers[1] = g_object_new (fuzz_server_get_type (), "main-context", context, NULL);
  servers[2] = g_object_new (fuzz_server_get_type (),
                             "cast-type", "(sx)", "call-type", "a{sv}", NULL);
  servers[3] = g_object_new (GEN_TYPE_SERVER, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    if (!gen_server_start (servers[i], NULL, &error))
      g_error ("%s", error->message);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree gchar *type_string = NULL;
  g_autoptr(GVariant) message = NULL;
  gboolean trusted;

  if (size < 1)
    return 0;
  trusted = data[0] & 1;
  data++, size--;

  type_string = fuzz_take_string (&data, &size);
  if (type_string == NULL)
    return 0;
  message = fuzz_message (type_string, data, size, trusted);
  if (message == NULL)
    return 0;

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    fuzz_send (servers[i], message);
  return 0;
}
