/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The trace of a server: a structured log record for each message handled
 * while tracing is on (gen_server_set_trace()), the record of a crash,
 * and the lifecycle's debug lines. Called from the run (gen-run.c) on the
 * handler thread, and from the layers above for their own lifecycle lines.
 */

#include "config.h"

#include <string.h>

#include "gen-live-private.h"
#include "gen-server-private.h"

/* How much of a printed message a trace record carries. */
#define TRACE_MESSAGE_MAX 256

static gchar *
print_bounded (GVariant *message)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);
  const gchar *end;

  if (strlen (text) <= TRACE_MESSAGE_MAX)
    return g_steal_pointer (&text);
  /* Cut on a character boundary, with room for the ellipsis (3 bytes):
   * the field stays valid UTF-8 and within the bound. */
  end = text + TRACE_MESSAGE_MAX - 3;
  while (end > text && (*end & 0xC0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s…", (int) (end - text), text);
}

void
gen_trace_record (GenServer    *self,
                  const gchar  *kind,
                  GVariant     *message,
                  const GError *error,
                  gint64        begin)
{
  g_autofree gchar *text = NULL;
  gchar address[32];
  gchar handling[32];
  gint64 elapsed = g_get_monotonic_time () - begin;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "5", -1 },
    { "MESSAGE", NULL, -1 },
    { "GEN_SERVER", gen_server_name (self), -1 },
    { "GEN_SERVER_ADDRESS", address, -1 },
    { "GEN_KIND", kind, -1 },
    { "GEN_TEXT", NULL, -1 },
    { "GEN_HANDLING_US", handling, -1 },
  };
  g_autofree gchar *line = NULL;

  if (error != NULL)
    text = g_strdup_printf ("error %s %d: %s", g_quark_to_string (error->domain),
                            error->code, error->message);
  else if (message != NULL)
    text = print_bounded (message);
  else
    text = g_strdup ("");

  g_snprintf (address, sizeof address, "%p", (gpointer) self);
  g_snprintf (handling, sizeof handling, "%" G_GINT64_FORMAT, elapsed);
  line = g_strdup_printf ("%s %s %s %s (%" G_GINT64_FORMAT " µs)",
                          gen_server_name (self), address, kind, text, elapsed);
  fields[2].value = line;
  fields[6].value = text;
  g_log_structured_array (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));
  gen_live_trace (self, gen_server_get_private (self)->live.id, kind, text, elapsed);
}

void
gen_trace_crash (GenServer    *self,
                 const GError *reason,
                 GVariant     *handling)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autofree gchar *text = handling != NULL ? print_bounded (handling) : g_strdup ("");
  g_autofree gchar *line = NULL;
  gchar address[32];
  gchar code[16];
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "7", -1 },
    { "MESSAGE", NULL, -1 },
    { "GEN_SERVER", gen_server_name (self), -1 },
    { "GEN_SERVER_ADDRESS", address, -1 },
    { "GEN_KIND", "crash", -1 },
    { "GEN_ERROR_DOMAIN", g_quark_to_string (reason->domain), -1 },
    { "GEN_ERROR_CODE", code, -1 },
    { "GEN_ERROR_MESSAGE", reason->message, -1 },
    { "GEN_TEXT", text, -1 },
  };

  g_mutex_lock (&priv->lock);
  g_free (priv->last_crash);
  priv->last_crash = g_strdup (reason->message);
  g_mutex_unlock (&priv->lock);

  g_snprintf (address, sizeof address, "%p", (gpointer) self);
  g_snprintf (code, sizeof code, "%d", reason->code);
  line = g_strdup_printf ("%s %s crashed (%s %d: %s) handling %s",
                          gen_server_name (self), address,
                          g_quark_to_string (reason->domain), reason->code, reason->message,
                          handling != NULL ? text : "no message");
  fields[2].value = line;
  g_log_structured_array (G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS (fields));
}

/* @address as printf's %p writes it, for a line printed at every start
 * and stop. */
static void
print_address (gchar         buffer[2 + 2 * sizeof (gpointer) + 1],
               gconstpointer address)
{
  guintptr value = (guintptr) address;
  gchar digits[2 * sizeof (gpointer)];
  guint n = 0;

  do
    {
      digits[n++] = "0123456789abcdef"[value & 0xf];
      value >>= 4;
    }
  while (value != 0);

  buffer[0] = '0';
  buffer[1] = 'x';
  for (guint i = 0; i < n; i++)
    buffer[2 + i] = digits[n - 1 - i];
  buffer[2 + n] = '\0';
}

void
gen_trace_lifecycle (GenServer    *self,
                     const gchar  *event,
                     const GError *reason)
{
  gchar address[2 + 2 * sizeof (gpointer) + 1];
  g_autofree gchar *line = NULL;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "7", -1 },
    { "MESSAGE", NULL, -1 },
    { "GEN_SERVER", gen_server_name (self), -1 },
    { "GEN_LIFECYCLE", event, -1 },
  };

  /* Structured, not g_debug(): in GLib 2.74, g_log() reads the list of
   * g_test_expect_message() unlocked, which a crash warning on a server
   * thread writes at the same moment. The line is made for every start
   * and stop, shown or not (a writer of the program's may want it): it is
   * put together without printf, which cost as much as the rest of a
   * server's start and stop. */
  print_address (address, self);
  line = g_strconcat (gen_server_name (self), " ", address, " ", event,
                      reason != NULL ? ": " : "", reason != NULL ? reason->message : "", NULL);
  fields[2].value = line;
  g_log_structured_array (G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS (fields));
}
