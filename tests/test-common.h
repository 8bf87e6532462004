/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <genserver/genserver.h>

/* How long a test waits for something that should happen at once. Generous:
 * valgrind and sanitizers slow everything down; a pass never waits this long. */
#define TEST_DEADLINE_US (30 * G_USEC_PER_SEC)
#define TEST_CALL_TIMEOUT_MS 30000

typedef gboolean (*TestPredicate) (gpointer data);

/* Polls @predicate until it holds, failing the test at the deadline. For
 * conditions nothing signals, such as a mailbox filling up. */
static inline void
test_wait_until (TestPredicate predicate,
                 gpointer      data)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not met within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
      g_thread_yield ();
    }
}

typedef struct
{
  GenServer *server;
  guint length;
} TestMailbox;

static inline gboolean
test_mailbox_has (TestMailbox *mailbox)
{
  return gen_server_get_mailbox_length (mailbox->server) >= mailbox->length;
}

static inline gboolean
test_not_running (gpointer server)
{
  return !gen_server_is_running (GEN_SERVER (server));
}
