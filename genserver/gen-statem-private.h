/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-statem.h"

G_BEGIN_DECLS

/*
 * What gen-statem.c (the type, its events, timeouts and transitions) and
 * gen-statem-actions.c (the actions callbacks ask for) share.
 */

/* An event waiting to be handled (inserted or postponed). */
typedef struct
{
  GenStatemEventType type;
  GVariant *content;   /* owned */
  GenReply *reply;     /* owned, nullable: the caller of a call event */
  gchar *timeout_name; /* owned, nullable: a generic timeout's name */
} Event;

/* One armed timeout. A timer's message carries a token so that
 * handle_info can tell it from the user's own messages: a message only
 * counts as a timeout if its token is the one armed right now (a timer
 * that gen_server_cancel_timer() cancelled never arrives). */
typedef struct
{
  guint timer_id;    /* 0: no timer runs */
  gboolean zero;     /* armed with 0 ms: waits in the t0q, not in a timer */
  guint64 token;
  GVariant *content; /* owned, nullable when not armed */
} Timeout;

typedef enum
{
  KIND_STATE,
  KIND_GENERIC,
  KIND_EVENT,
} TimeoutKind;

typedef enum
{
  OP_SET,        /* in timeout_ms; negative: cancel */
  OP_SET_AT,     /* at deadline, on the monotonic clock */
  OP_UPDATE,     /* new content for a running timeout, else a zero one */
  OP_CANCEL,
} TimeoutOp;

typedef struct
{
  TimeoutKind kind;
  TimeoutOp op;
  gchar *name;       /* owned; generic timeouts only */
  gint timeout_ms;
  gint64 deadline;   /* µs, g_get_monotonic_time()'s clock */
  GVariant *content; /* owned, nullable for OP_CANCEL */
} TimeoutAction;

typedef struct
{
  GenReply *reply;   /* owned, nullable: the current call */
  GVariant *value;   /* owned; or */
  GError *error;     /* owned */
} ReplyAction;

/* What one callback (init_state or handle_event) asked for. */
typedef struct
{
  gboolean active;         /* inside a callback: actions are accepted */
  gboolean in_init;
  Event *event;            /* unowned: the event being handled; NULL in init_state */
  gboolean reply_taken;    /* the current call's reply went to the callback */
  gboolean postpone;
  gboolean repeat_state;
  gboolean stop;           /* stop once the replies are sent */
  GError *stop_reason;     /* owned, nullable: NULL is a normal stop */
  GPtrArray *replies;      /* ReplyAction, owned */
  GPtrArray *timeouts;     /* TimeoutAction, owned */
  GQueue next_events;      /* Event, owned */
} Actions;

typedef struct
{
  /* Written by the handler thread under state_lock, read by anybody
   * through gen_statem_dup_state(). */
  GMutex state_lock;
  GVariant *state;         /* owned, nullable before the first start */

  /* Set at construction, immutable afterwards. */
  gboolean state_enter;

  /* Only the handler thread (or the thread that finishes the server, once
   * the handler thread is done) touches the rest. */
  Actions actions;
  GQueue pending;           /* Event, owned: before the next mailbox message */
  GQueue postponed;         /* Event, owned: until the next state change */
  gboolean initial_pending; /* the first enter call and events are due */
  Timeout state_timeout;
  Timeout event_timeout;
  GHashTable *timeouts;     /* name (owned) → Timeout (owned) */
  /* Timeout (unowned: one of the above), armed with 0 ms, in the order
   * armed: Erlang's t0q. They come before the next mailbox message, after
   * the inserted and postponed events, without a timer, so that nothing
   * that arrives meanwhile can overtake them. */
  GQueue t0q;
  guint64 last_token;
  const gchar *timeout_name; /* unowned: of the event being handled */
} GenStatemPrivate;

GenStatemPrivate *gen_statem_get_private          (GenStatem          *self);
const gchar      *gen_statem_name                 (GenStatem          *self);
Event            *gen_statem_event_new            (GenStatemEventType  type,
                                                   GVariant           *content,
                                                   GenReply           *reply,
                                                   const gchar        *timeout_name);
void              gen_statem_event_free_answering (GenStatem          *self,
                                                   Event              *event,
                                                   gint                code);

/* The Actions of one callback. Handler thread. */
void              gen_statem_actions_begin        (GenStatem          *self,
                                                   Event              *event);
void              gen_statem_actions_end          (GenStatem          *self);
void              gen_statem_actions_drop         (GenStatem          *self);
void              gen_statem_actions_free_timeout (gpointer            data);
void              gen_statem_actions_free_reply   (gpointer            data);

G_END_DECLS
