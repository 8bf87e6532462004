/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <string.h>

#include <genserver/genserver.h>

/* What the fuzz targets share: the libFuzzer entry points, an echo server,
 * and the reading of an input into strings and a message. */

int LLVMFuzzerInitialize   (int            *argc,
                            char         ***argv);
int LLVMFuzzerTestOneInput (const uint8_t  *data,
                            size_t          size);

/* A server whose handlers use the message as a real one would: print it,
 * take its normal form, walk its children; calls are answered with the
 * message itself. Static: each target is one file. */
struct _FuzzServer
{
  GenServer parent_instance;
};

G_DECLARE_FINAL_TYPE (FuzzServer, fuzz_server, FUZZ, SERVER, GenServer)
G_DEFINE_TYPE (FuzzServer, fuzz_server, GEN_TYPE_SERVER)

static void
fuzz_touch (GVariant *message)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);
  g_autoptr(GVariant) normal = g_variant_get_normal_form (message);

  g_assert_nonnull (text);
  g_assert_nonnull (normal);
  if (g_variant_is_container (message))
    {
      gsize n = MIN (g_variant_n_children (message), 64);

      for (gsize i = 0; i < n; i++)
        g_variant_unref (g_variant_get_child_value (message, i));
    }
}

static void
fuzz_server_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  fuzz_touch (message);
}

static GVariant *
fuzz_server_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  fuzz_touch (message);
  return g_variant_ref (message);
}

static void
fuzz_server_class_init (FuzzServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = fuzz_server_handle_cast;
  server_class->handle_call = fuzz_server_handle_call;
  server_class->handle_info = fuzz_server_handle_cast;
}

static void
fuzz_server_init (FuzzServer *self)
{
}

/* Takes a NUL-terminated string off the front of the input; NULL when
 * there is no NUL left. */
static inline gchar *
fuzz_take_string (const uint8_t **data,
                  size_t         *size)
{
  const uint8_t *end = memchr (*data, '\0', *size);
  gchar *string;

  if (end == NULL)
    return NULL;
  string = g_strndup ((const gchar *) *data, end - *data);
  *size -= end - *data + 1;
  *data = end + 1;
  return string;
}

/* GLib's G_VARIANT_MAX_RECURSION_DEPTH (private to GLib). */
#define FUZZ_GLIB_MAX_DEPTH 128

/* How deep @type nests, as GLib counts it: 1 for a basic type or a
 * variant, one more than its deepest item for a container. */
static inline gsize
fuzz_type_depth (const GVariantType *type)
{
  gsize deepest = 0;

  if (g_variant_type_is_array (type) || g_variant_type_is_maybe (type))
    return 1 + fuzz_type_depth (g_variant_type_element (type));
  if (!g_variant_type_is_tuple (type) && !g_variant_type_is_dict_entry (type))
    return 1;
  for (const GVariantType *item = g_variant_type_first (type); item != NULL;
       item = g_variant_type_next (item))
    deepest = MAX (deepest, fuzz_type_depth (item));
  return 1 + deepest;
}

/* The rest of the input as a message of @type_string: untrusted bytes as
 * they came, or (@trusted) their normal form given again as trusted, which
 * is what trusted data must be. NULL if the type is not a definite type,
 * or nests deeper than GLib can read: GLib 2.74 takes a type string of
 * depth 129 as valid (128 arrays around a basic type), but reading a
 * child of an untrusted value of that type fails an assertion of its own
 * (g_variant_get_child_value() expects only a variant to nest that deep),
 * whoever reads it: GLib's bug, not one of genserver's. */
static inline GVariant *
fuzz_message (const gchar   *type_string,
              const uint8_t *data,
              size_t         size,
              gboolean       trusted)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) untrusted = NULL;
  g_autoptr(GVariant) normal = NULL;
  g_autoptr(GBytes) normal_bytes = NULL;

  if (!g_variant_type_string_is_valid (type_string) ||
      !g_variant_type_is_definite ((const GVariantType *) type_string) ||
      fuzz_type_depth ((const GVariantType *) type_string) > FUZZ_GLIB_MAX_DEPTH)
    return NULL;

  bytes = g_bytes_new (data, size);
  untrusted = g_variant_ref_sink (g_variant_new_from_bytes ((const GVariantType *) type_string,
                                                            bytes, FALSE));
  if (!trusted)
    return g_steal_pointer (&untrusted);

  normal = g_variant_get_normal_form (untrusted);
  normal_bytes = g_variant_get_data_as_bytes (normal);
  return g_variant_ref_sink (g_variant_new_from_bytes ((const GVariantType *) type_string,
                                                       normal_bytes, TRUE));
}

/* Casts, sends as info and calls @message; checks the outcome against the
 * server's declared types. The call comes last: per-sender order makes it
 * wait until the cast and the info were handled, so that anything they do
 * wrong happens within this input. */
static inline void
fuzz_send (GenServer *server,
           GVariant  *message)
{
  const gchar *cast_type = gen_server_get_cast_type (server);
  const gchar *call_type = gen_server_get_call_type (server);
  gboolean cast_ok = cast_type == NULL || g_variant_is_of_type (message, G_VARIANT_TYPE (cast_type));
  gboolean call_ok = call_type == NULL || g_variant_is_of_type (message, G_VARIANT_TYPE (call_type));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (gen_server_cast (server, message, &error) == cast_ok);
  if (cast_ok)
    g_assert_no_error (error);
  else
    g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  g_assert_true (gen_server_send_info (server, message, &error));
  g_assert_no_error (error);

  reply = gen_server_call (server, message, -1, &error);
  if (!call_ok)
    {
      g_assert_null (reply);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
    }
  else if (FUZZ_IS_SERVER (server))
    {
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (reply, message));
    }
  else
    {
      /* GenServer's own handle_call answers every call with an error. */
      g_assert_null (reply);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
    }
}

/* Invalid type strings are the point here; their warnings are noise. */
static inline void
fuzz_quiet (const gchar    *domain,
            GLogLevelFlags  level,
            const gchar    *message,
            gpointer        user_data)
{
}
