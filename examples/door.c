/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A code lock: Erlang/OTP's own gen_statem example, as a GenStatem.
 *
 * The door is locked or open. Buttons are casts; the last buttons pressed,
 * as many as the code is long, open the door when they match the code.
 * The open state has a state timeout that locks the door again. A call
 * that waits for the lock is postponed while the door is open, and
 * answered once it is locked. State enter calls print "Lock" and "Unlock".
 *
 *   cc door.c $(pkg-config --cflags --libs genserver-1) -o door
 */

#include <locale.h>
#include <string.h>

#include <genserver/genserver.h>

#define DOOR_TYPE (door_get_type ())
G_DECLARE_FINAL_TYPE (Door, door, DOOR, STATEM, GenStatem)

struct _Door
{
  GenStatem parent_instance;

  /* Touched only by the machine's thread. */
  gchar *code;      /* owned */
  GString *buttons; /* owned: the last buttons pressed */
};

G_DEFINE_FINAL_TYPE (Door, door, GEN_TYPE_STATEM)

/* Short, so that the example finishes quickly; Erlang's uses 10 s. */
#define OPEN_MS 100

static GVariant *
door_init_state (GenStatem  *statem,
                 GVariant   *args,
                 GError    **error)
{
  Door *self = DOOR_STATEM (statem);

  g_free (self->code);
  self->code = g_variant_dup_string (args, NULL);
  g_string_truncate (self->buttons, 0);
  return g_variant_new_string ("locked");
}

static GVariant *
door_handle_event (GenStatem           *statem,
                   GenStatemEventType   type,
                   GVariant            *content,
                   GVariant            *state,
                   GError             **error)
{
  Door *self = DOOR_STATEM (statem);
  gboolean locked = g_str_equal (g_variant_get_string (state, NULL), "locked");

  switch (type)
    {
    case GEN_STATEM_EVENT_ENTER:
      if (locked)
        {
          g_print ("Lock\n");
          g_string_truncate (self->buttons, 0);
        }
      else
        {
          g_print ("Unlock\n");
          gen_statem_set_state_timeout (statem, OPEN_MS, g_variant_new_string ("lock"));
        }
      return NULL;

    case GEN_STATEM_EVENT_CAST:
      /* A button: ignored while the door is open. */
      if (!locked)
        return NULL;
      g_string_append (self->buttons, g_variant_get_string (content, NULL));
      if (self->buttons->len > strlen (self->code))
        g_string_erase (self->buttons, 0, self->buttons->len - strlen (self->code));
      if (g_str_equal (self->buttons->str, self->code))
        return g_variant_new_string ("open");
      return NULL;

    case GEN_STATEM_EVENT_STATE_TIMEOUT:
      return g_variant_new_string ("locked");

    case GEN_STATEM_EVENT_CALL:
      {
        const gchar *request = g_variant_get_string (content, NULL);

        if (g_str_equal (request, "code-length"))
          gen_statem_reply (statem, NULL, g_variant_new_int32 ((gint32) strlen (self->code)));
        else if (g_str_equal (request, "state"))
          gen_statem_reply (statem, NULL, state);
        else if (g_str_equal (request, "wait-locked") && !locked)
          gen_statem_postpone (statem);  /* asked again once the state changes */
        else if (g_str_equal (request, "wait-locked"))
          gen_statem_reply (statem, NULL, state);
        else
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                       "Unknown request “%s”", request);
        return NULL;
      }

    default:
      return NULL;
    }
}

static void
door_terminate (GenServer    *server,
                const GError *reason)
{
  g_print ("Door stopped.\n");
}

static void
door_finalize (GObject *object)
{
  Door *self = DOOR_STATEM (object);

  g_free (self->code);
  g_string_free (self->buttons, TRUE);

  G_OBJECT_CLASS (door_parent_class)->finalize (object);
}

static void
door_class_init (DoorClass *klass)
{
  GenStatemClass *statem_class = GEN_STATEM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = door_finalize;
  GEN_SERVER_CLASS (klass)->terminate = door_terminate;
  statem_class->init_state = door_init_state;
  statem_class->handle_event = door_handle_event;
  gen_statem_class_set_state_enter (statem_class, TRUE);
  gen_server_class_set_cast_type (GEN_SERVER_CLASS (klass), "s");
  gen_server_class_set_call_type (GEN_SERVER_CLASS (klass), "s");
}

static void
door_init (Door *self)
{
  self->buttons = g_string_new (NULL);
}

static void
press (Door        *door,
       const gchar *buttons)
{
  for (const gchar *b = buttons; *b != '\0'; b++)
    {
      gchar button[2] = { *b, '\0' };

      gen_server_cast (GEN_SERVER (door), g_variant_new_string (button), NULL);
    }
}

static GVariant *
ask (Door        *door,
     const gchar *request)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = gen_server_call (GEN_SERVER (door), g_variant_new_string (request),
                           GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (reply == NULL)
    g_error ("door: %s", error->message);
  return reply;
}

int
main (void)
{
  g_autoptr(Door) door = g_object_new (DOOR_TYPE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) length = NULL;
  g_autoptr(GVariant) state = NULL;
  g_autoptr(GVariant) open = NULL;
  g_autoptr(GVariant) relocked = NULL;

  setlocale (LC_ALL, "");

  if (!gen_server_start (GEN_SERVER (door), g_variant_new_string ("1234"), &error))
    {
      g_printerr ("door: %s\n", error->message);
      return 1;
    }

  length = ask (door, "code-length");
  g_print ("Code length: %d\n", g_variant_get_int32 (length));

  /* Casts and calls from one thread are handled in the order sent. */
  press (door, "129");
  state = ask (door, "state");
  g_print ("State: %s\n", g_variant_get_string (state, NULL));

  press (door, "1234");
  open = ask (door, "state");
  g_print ("State: %s\n", g_variant_get_string (open, NULL));

  relocked = ask (door, "wait-locked");
  g_print ("Door is %s again\n", g_variant_get_string (relocked, NULL));

  return gen_server_stop (GEN_SERVER (door), -1, NULL) ? 0 : 1;
}
