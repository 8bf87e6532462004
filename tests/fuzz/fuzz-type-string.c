/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Random type strings as cast-type and call-type, then a message against
 * them: a server with an invalid type refuses to start, with
 * INVALID_TYPE; one with valid types accepts exactly the messages of those
 * types.
 *
 * Input: the cast type, NUL, the call type, NUL (an empty one is unset),
 * the message's type, NUL, then its serialised bytes (untrusted). */

#include "fuzz-common.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_handler ("Gen", G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR, fuzz_quiet, NULL);
  return 0;
}

static gboolean
valid_or_unset (const gchar *type_string)
{
  return type_string == NULL || g_variant_type_string_is_valid (type_string);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree gchar *cast_type = fuzz_take_string (&data, &size);
  g_autofree gchar *call_type = fuzz_take_string (&data, &size);
  g_autofree gchar *message_type = fuzz_take_string (&data, &size);
  g_autoptr(GenServer) server = NULL;
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GError) error = NULL;
  gboolean valid;

  if (message_type == NULL)
    return 0;
  if (cast_type[0] == '\0')
    g_clear_pointer (&cast_type, g_free);
  if (call_type[0] == '\0')
    g_clear_pointer (&call_type, g_free);

  valid = valid_or_unset (cast_type) && valid_or_unset (call_type);
  server = g_object_new (fuzz_server_get_type (),
                         "cast-type", cast_type, "call-type", call_type, NULL);
  if (!valid)
    {
      g_assert_false (gen_server_start (server, NULL, &error));
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_TYPE);
      return 0;
    }

  g_assert_cmpstr (gen_server_get_cast_type (server), ==, cast_type);
  g_assert_cmpstr (gen_server_get_call_type (server), ==, call_type);
  if (!gen_server_start (server, NULL, &error))
    g_error ("%s", error->message);

  message = fuzz_message (message_type, data, size, FALSE);
  if (message != NULL)
    fuzz_send (server, message);

  if (!gen_server_stop (server, -1, &error))
    g_error ("%s", error->message);
  return 0;
}
