/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The server the observer's C tests observe: a counter with a
 * format_status. */

#include <genserver/genserver.h>

#define OBS_TYPE_COUNTER (obs_counter_get_type ())
G_DECLARE_FINAL_TYPE (ObsCounter, obs_counter, OBS, COUNTER, GenServer)

struct _ObsCounter
{
  GenServer parent_instance;
  gint count; /* handler thread */
};

G_DEFINE_FINAL_TYPE (ObsCounter, obs_counter, GEN_TYPE_SERVER)

static inline void
obs_counter_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  OBS_COUNTER (server)->count++;
}

static inline GVariant *
obs_counter_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  return g_variant_new_int32 (OBS_COUNTER (server)->count);
}

static inline GVariant *
obs_counter_format_status (GenServer *server)
{
  return g_variant_new ("(si)", "counted", OBS_COUNTER (server)->count);
}

static inline void
obs_counter_class_init (ObsCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = obs_counter_handle_cast;
  server_class->handle_call = obs_counter_handle_call;
  server_class->format_status = obs_counter_format_status;
}

static inline void
obs_counter_init (ObsCounter *self)
{
}
