/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hot path of the Python override: Server.cast without PyGObject's
 * invocation machinery, plain values packed in C, and cast
 * handlers called without PyGObject's vfunc closure, with messages whose
 * getters keep the GIL.
 *
 * A cast through PyGObject marshals its arguments through the typelib and
 * releases the GIL around the C call; the server thread, waiting for the
 * GIL, then takes it, and the producer waits to get it back: the GIL
 * changes hands on every message. gen_server_cast() never blocks (it
 * queues and wakes), so this calls it with the GIL held, and a producer
 * sends a run of casts in one hold of the GIL while the server's handlers
 * catch up once it lets go. For the same reason the common messages (ints,
 * strings, tuples of them) are packed here: each GLib.Variant constructor
 * called from Python is a GI call that lets go of the GIL too. And on the
 * server's side, the handler reads its message without a GI call either.
 *
 * It also does for the override what Python code cannot: hold a thread
 * state across handlers (PyGILState_*) until the run ends, give a
 * GLib.Variant's address, and chain to a C terminate with a NULL reason.
 *
 * PyGObject's objects are read through its public header, pygobject.h
 * (Debian's python-gi-dev).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <pygobject.h>

#include <string.h>

#include <genserver/genserver.h>

/* Packs @value as the single complete type at @type (NULL: inferred), by
 * the override's natural forms (see _conform in Gen.py), for the kinds a
 * message usually is: bool, the integer types, double, string and tuples
 * of them. Returns a floating GVariant, or NULL for anything else (another
 * type, a value not of its natural form, out of range, not UTF-8) with no
 * Python exception set: the override then packs it, and raises or lets C
 * refuse it, as without this module. */
static GVariant *
pack_value (const gchar *type,
            PyObject    *value)
{
  gchar code = type != NULL ? type[0] : '\0';

  if (type == NULL)
    {
      if (PyBool_Check (value))
        code = 'b';
      else if (PyLong_Check (value))
        code = 'x';
      else if (PyFloat_Check (value))
        code = 'd';
      else if (PyUnicode_Check (value))
        code = 's';
      else if (PyTuple_Check (value))
        code = '(';
      else
        return NULL;
    }

  switch (code)
    {
    case 'b':
      if (!PyBool_Check (value))
        return NULL;
      return g_variant_new_boolean (value == Py_True);

    case 'y': case 'n': case 'q': case 'i': case 'u': case 'h': case 'x': case 't':
      {
        int overflow = 0;

        if (!PyLong_Check (value) || PyBool_Check (value))
          return NULL;
        if (code == 't')
          {
            unsigned long long number = PyLong_AsUnsignedLongLong (value);

            if (number == (unsigned long long) -1 && PyErr_Occurred ())
              {
                PyErr_Clear ();
                return NULL;
              }
            return g_variant_new_uint64 (number);
          }
        else
          {
            long long number = PyLong_AsLongLongAndOverflow (value, &overflow);

            if (overflow != 0 || (number == -1 && PyErr_Occurred ()))
              {
                PyErr_Clear ();
                return NULL;
              }
            switch (code)
              {
              case 'y':
                return number >= 0 && number <= G_MAXUINT8 ? g_variant_new_byte (number) : NULL;
              case 'n':
                return number >= G_MININT16 && number <= G_MAXINT16 ? g_variant_new_int16 (number) : NULL;
              case 'q':
                return number >= 0 && number <= G_MAXUINT16 ? g_variant_new_uint16 (number) : NULL;
              case 'i':
                return number >= G_MININT32 && number <= G_MAXINT32 ? g_variant_new_int32 (number) : NULL;
              case 'h':
                return number >= G_MININT32 && number <= G_MAXINT32 ? g_variant_new_handle (number) : NULL;
              case 'u':
                return number >= 0 && number <= G_MAXUINT32 ? g_variant_new_uint32 (number) : NULL;
              default:
                return g_variant_new_int64 (number);
              }
          }
      }

    case 'd':
      {
        double number;

        if (PyBool_Check (value) || !(PyFloat_Check (value) || PyLong_Check (value)))
          return NULL;
        number = PyFloat_AsDouble (value);
        if (number == -1.0 && PyErr_Occurred ())
          {
            PyErr_Clear ();
            return NULL;
          }
        return g_variant_new_double (number);
      }

    case 's':
      {
        const char *text;
        Py_ssize_t length;

        if (!PyUnicode_Check (value))
          return NULL;
        text = PyUnicode_AsUTF8AndSize (value, &length);
        if (text == NULL)
          {
            PyErr_Clear ();  /* lone surrogates: the override says why */
            return NULL;
          }
        if (strlen (text) != (size_t) length)
          return NULL;  /* an embedded NUL */
        return g_variant_new_string (text);
      }

    case '(':
      {
        g_autofree GVariant **children = NULL;
        const gchar *item = type != NULL ? type + 1 : NULL;
        Py_ssize_t n_children, i;
        GVariant *tuple;

        if (!PyTuple_Check (value))
          return NULL;
        n_children = PyTuple_GET_SIZE (value);
        children = g_new0 (GVariant *, MAX (n_children, 1));
        for (i = 0; i < n_children; i++)
          {
            const gchar *end = NULL;
            g_autofree gchar *item_type = NULL;

            if (item != NULL)
              {
                if (*item == ')' || !g_variant_type_string_scan (item, NULL, &end))
                  break;
                item_type = g_strndup (item, end - item);
                item = end;
              }
            children[i] = pack_value (item_type, PyTuple_GET_ITEM (value, i));
            if (children[i] == NULL)
              break;
          }
        if (i < n_children || (item != NULL && *item != ')'))
          {
            while (i-- > 0)
              g_variant_unref (g_variant_ref_sink (children[i]));
            return NULL;
          }
        tuple = g_variant_new_tuple (children, n_children);
        return tuple;
      }

    default:
      return NULL;
    }
}

static GenServer *
server_of (PyObject *object)
{
  GObject *server = NULL;

  if (PyObject_TypeCheck (object, &PyGObject_Type))
    server = pygobject_get (object);
  if (server == NULL || !GEN_IS_SERVER (server))
    {
      PyErr_SetString (PyExc_TypeError, "expected a Gen.Server");
      return NULL;
    }
  return GEN_SERVER (server);
}

/* A GLib.Variant's GVariant (borrowed), or NULL with TypeError set. */
static GVariant *
variant_of (PyObject *object)
{
  GVariant *variant = NULL;

  if (PyObject_TypeCheck (object, &PyGPointer_Type))
    variant = pyg_pointer_get_ptr (object);
  if (variant == NULL)
    PyErr_SetString (PyExc_TypeError, "expected a GLib.Variant");
  return variant;
}

/* GLib.Variant, the override's class (set at import). */
static PyObject *variant_class;

/* The override's cast through GI (_cast_through_gi in Gen.py), for values
 * pack_value() leaves to it; set by cast_method(). */
static PyObject *cast_through_gi;

/* Server.cast(server, message) (see CastMethod below). The message is
 * packed here (or the GLib.Variant taken as it is) and cast with the GIL
 * held; a value pack_value() leaves goes to the override's cast through
 * GI, which packs it, raises, or lets C refuse it. */
static PyObject *
server_cast (PyObject *const  *args,
             Py_ssize_t        n_args)
{
  GenServer *server;
  GVariant *message;
  GError *error = NULL;
  gboolean queued;

  if (n_args != 2 || cast_through_gi == NULL)
    {
      PyErr_SetString (PyExc_TypeError, "cast() takes a server and a message");
      return NULL;
    }
  if ((server = server_of (args[0])) == NULL)
    return NULL;
  if (PyObject_TypeCheck (args[1], (PyTypeObject *) variant_class) &&
      pyg_pointer_get_ptr (args[1]) != NULL)
    message = pyg_pointer_get_ptr (args[1]);
  else if ((message = pack_value (gen_server_get_cast_type (server), args[1])) == NULL)
    return PyObject_Vectorcall (cast_through_gi, args, 2, NULL);

  if (gen_server_get_mailbox_policy (server) == GEN_MAILBOX_POLICY_BLOCK &&
      gen_server_get_mailbox_capacity (server) != 0)
    {
      /* It may wait for room, which the server makes only with the GIL.
       * (@message stays alive: args[1] holds it, or it is ours.) */
      Py_BEGIN_ALLOW_THREADS
      queued = gen_server_cast (server, message, &error);
      Py_END_ALLOW_THREADS
    }
  else
    {
      queued = gen_server_cast (server, message, &error);
    }

  if (!queued)
    {
      pyg_error_check (&error);
      return NULL;
    }
  Py_RETURN_TRUE;
}

/* Server.cast itself: a method in C, so that a cast runs no Python frame
 * of the override. It binds as a Python function does (a descriptor,
 * called with the server first, no bound method made for
 * server.cast(...)), and keeps a __dict__ for what functools.wraps
 * copies from the Python method: name, doc, signature, type hints. */
typedef struct
{
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject *dict;
} CastMethod;

static PyObject *message_name;

static PyObject *
cast_method_vectorcall (PyObject         *callable,
                        PyObject *const  *args,
                        size_t            n_args_flags,
                        PyObject         *keywords)
{
  Py_ssize_t n_args = PyVectorcall_NARGS (n_args_flags);

  /* server.cast(message=value): the value follows the positionals. */
  if (keywords != NULL && PyTuple_GET_SIZE (keywords) > 0)
    {
      if (PyTuple_GET_SIZE (keywords) != 1 || n_args != 1 ||
          PyUnicode_Compare (PyTuple_GET_ITEM (keywords, 0), message_name) != 0)
        {
          PyErr_SetString (PyExc_TypeError, "cast() takes one argument, the message");
          return NULL;
        }
      n_args = 2;
    }
  return server_cast (args, n_args);
}

static PyObject *
cast_method_get (PyObject *self,
                 PyObject *instance,
                 PyObject *owner)
{
  if (instance == NULL || instance == Py_None)
    return Py_NewRef (self);
  return PyMethod_New (self, instance);
}

static int
cast_method_traverse (PyObject    *self,
                      visitproc    visit,
                      void        *arg)
{
  Py_VISIT (((CastMethod *) self)->dict);
  Py_VISIT (Py_TYPE (self));
  return 0;
}

static int
cast_method_clear (PyObject *self)
{
  Py_CLEAR (((CastMethod *) self)->dict);
  return 0;
}

static void
cast_method_dealloc (PyObject *self)
{
  PyTypeObject *type = Py_TYPE (self);

  PyObject_GC_UnTrack (self);
  cast_method_clear (self);
  type->tp_free (self);
  Py_DECREF (type);
}

static PyMemberDef cast_method_members[] = {
  { "__vectorcalloffset__", T_PYSSIZET, offsetof (CastMethod, vectorcall), READONLY, NULL },
  { "__dictoffset__", T_PYSSIZET, offsetof (CastMethod, dict), READONLY, NULL },
  { NULL, 0, 0, 0, NULL },
};

static PyGetSetDef cast_method_getset[] = {
  { "__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL },
  { NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot cast_method_slots[] = {
  { Py_tp_call, PyVectorcall_Call },
  { Py_tp_descr_get, cast_method_get },
  { Py_tp_traverse, cast_method_traverse },
  { Py_tp_clear, cast_method_clear },
  { Py_tp_dealloc, cast_method_dealloc },
  { Py_tp_members, cast_method_members },
  { Py_tp_getset, cast_method_getset },
  { 0, NULL },
};

static PyType_Spec cast_method_spec = {
  .name = "gi.overrides._genserver.CastMethod",
  .basicsize = sizeof (CastMethod),
  .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
           Py_TPFLAGS_METHOD_DESCRIPTOR,
  .slots = cast_method_slots,
};

static PyTypeObject *cast_method_class;

/* cast_method(cast_through_gi): Server.cast, handing what it does not
 * pack to @cast_through_gi. */
static PyObject *
genserver_cast_method (PyObject *module,
                       PyObject *function)
{
  CastMethod *method;

  if (!PyCallable_Check (function))
    {
      PyErr_SetString (PyExc_TypeError, "cast_method() takes a function");
      return NULL;
    }
  method = PyObject_GC_New (CastMethod, cast_method_class);
  if (method == NULL)
    return NULL;
  method->vectorcall = cast_method_vectorcall;
  method->dict = NULL;
  PyObject_GC_Track (method);
  Py_XSETREF (cast_through_gi, Py_NewRef (function));
  return (PyObject *) method;
}

/* The reply as Python values, as GLib.Variant.unpack() gives them, for
 * the kinds pack_value() makes; NULL (no exception set) for the others. */
static PyObject *
unpack_value (GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return PyBool_FromLong (g_variant_get_boolean (value));
    case G_VARIANT_CLASS_BYTE:
      return PyLong_FromLong (g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return PyLong_FromLong (g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return PyLong_FromLong (g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return PyLong_FromLong (g_variant_get_int32 (value));
    case G_VARIANT_CLASS_HANDLE:
      return PyLong_FromLong (g_variant_get_handle (value));
    case G_VARIANT_CLASS_UINT32:
      return PyLong_FromUnsignedLong (g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_INT64:
      return PyLong_FromLongLong (g_variant_get_int64 (value));
    case G_VARIANT_CLASS_UINT64:
      return PyLong_FromUnsignedLongLong (g_variant_get_uint64 (value));
    case G_VARIANT_CLASS_DOUBLE:
      return PyFloat_FromDouble (g_variant_get_double (value));
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      {
        gsize length;
        const gchar *text = g_variant_get_string (value, &length);

        return PyUnicode_DecodeUTF8 (text, length, "strict");
      }
    case G_VARIANT_CLASS_TUPLE:
      {
        gsize n_children = g_variant_n_children (value), i;
        PyObject *tuple = PyTuple_New (n_children);

        if (tuple == NULL)
          return NULL;
        for (i = 0; i < n_children; i++)
          {
            g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
            PyObject *item = unpack_value (child);

            if (item == NULL)
              {
                Py_DECREF (tuple);
                return NULL;
              }
            PyTuple_SET_ITEM (tuple, i, item);
          }
        return tuple;
      }
    default:
      return NULL;
    }
}

enum { CALL_REPLY, CALL_ERROR, CALL_SERIALIZED };

/* call_value(server, type_string or None, value, timeout_ms, is_variant):
 * packs @value (or takes the GLib.Variant it is), calls without the GIL,
 * and returns (CALL_REPLY, value), (CALL_ERROR, domain, code, message,
 * the message's address), or
 * (CALL_SERIALIZED, type_string, bytes) for a reply unpack_value() leaves
 * to GLib.Variant.unpack(). NotImplemented when pack_value() leaves @value
 * to the override. */
static PyObject *
genserver_call_value (PyObject         *module,
                      PyObject *const  *args,
                      Py_ssize_t        n_args)
{
  GenServer *server;
  const char *type = NULL;
  GVariant *message;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  PyObject *result;
  gpointer address;
  long timeout_ms;

  if (n_args != 5)
    {
      PyErr_SetString (PyExc_TypeError, "call_value() takes 5 arguments");
      return NULL;
    }
  if ((server = server_of (args[0])) == NULL)
    return NULL;
  timeout_ms = PyLong_AsLong (args[3]);
  if (timeout_ms == -1 && PyErr_Occurred ())
    return NULL;

  if (PyObject_IsTrue (args[4]))
    {
      if ((message = variant_of (args[2])) == NULL)
        return NULL;
      /* Ours for the call: the Python object may go while we wait. */
      g_variant_ref (message);
    }
  else
    {
      if (args[1] != Py_None && (type = PyUnicode_AsUTF8 (args[1])) == NULL)
        return NULL;
      if (type != NULL && !g_variant_type_string_is_valid (type))
        Py_RETURN_NOTIMPLEMENTED;
      message = pack_value (type, args[2]);
      if (message == NULL)
        Py_RETURN_NOTIMPLEMENTED;
      g_variant_ref_sink (message);
    }

  /* Only compared, never followed: the key under which the handler left
   * the exception it raised (see _raised in Gen.py). */
  address = message;

  Py_BEGIN_ALLOW_THREADS
  reply = gen_server_call (server, message, CLAMP (timeout_ms, -1, G_MAXINT), &error);
  g_variant_unref (message);
  Py_END_ALLOW_THREADS

  if (reply == NULL)
    {
      result = Py_BuildValue ("(isisN)", CALL_ERROR, g_quark_to_string (error->domain),
                              error->code, error->message, PyLong_FromVoidPtr (address));
      g_error_free (error);
      return result;
    }

  result = unpack_value (reply);
  if (result != NULL)
    return Py_BuildValue ("(iN)", CALL_REPLY, result);
  if (PyErr_Occurred ())
    return NULL;
  return Py_BuildValue ("(isy#)", CALL_SERIALIZED, g_variant_get_type_string (reply),
                        (const char *) g_variant_get_data (reply),
                        (Py_ssize_t) g_variant_get_size (reply));
}

/* address(variant): the GVariant's address, the key of a message on both
 * sides of a call (the caller's and the handler's objects differ). */
static PyObject *
genserver_address (PyObject *module,
                   PyObject *variant)
{
  GVariant *message = variant_of (variant);

  return message != NULL ? PyLong_FromVoidPtr (message) : NULL;
}

/* watch_run(server, hold, run_ended): the end of the server's current run,
 * from one of its handlers.
 *
 * PyGObject runs a vfunc on a thread Python did not start by creating a
 * Python thread state, and destroys it when the vfunc returns, which
 * costs more than a small handler. With @hold, one more
 * PyGILState_Ensure() for the run keeps the thread state alive from
 * handler to handler, for a server whose thread is its own.
 *
 * Either way, a run-end function of the core (gen_server_add_run_end_func)
 * calls run_ended(server, reason) on the server's thread at every end of
 * the run, also one by a link's exit signal, which runs no do_terminate,
 * and then releases what @hold took: the thread state goes with it there,
 * on its own thread, before stop() returns or a monitor hears of the end.
 * (A destructor run as the thread exits would come too late: a server
 * finalized from Python, with the GIL, joins its thread.) */

#if PY_VERSION_HEX >= 0x030D0000
# define is_finalizing Py_IsFinalizing
#else
# define is_finalizing _Py_IsFinalizing
#endif

/* Thread states held for a run: for the tests (held_thread_states()). */
static gint n_held;

typedef struct
{
  PyObject *run_ended;      /* owned */
  gboolean held;
  PyGILState_STATE token;   /* of the held Ensure */
} RunWatch;

static void
run_watch_ended (GenServer    *server,
                 const GError *reason,
                 gpointer      data)
{
  RunWatch *watch = data;
  PyGILState_STATE state;
  PyObject *self, *py_reason = NULL, *result = NULL;

  /* A run that ends as Python shuts down (a server left running at exit)
   * has nobody to tell, and the GIL is not to be had. */
  if (!Py_IsInitialized () || is_finalizing ())
    {
      g_free (watch);
      return;
    }

  state = PyGILState_Ensure ();
  self = pygobject_new (G_OBJECT (server));
  if (self != NULL && reason != NULL)
    {
      GError *copy = g_error_copy (reason);
      PyObject *type, *traceback;

      /* The GLib.Error PyGObject makes of a GError argument. */
      pyg_error_check (&copy);
      PyErr_Fetch (&type, &py_reason, &traceback);
      PyErr_NormalizeException (&type, &py_reason, &traceback);
      Py_XDECREF (type);
      Py_XDECREF (traceback);
    }
  if (self != NULL && (reason == NULL || py_reason != NULL))
    result = PyObject_CallFunctionObjArgs (watch->run_ended, self,
                                           py_reason != NULL ? py_reason : Py_None, NULL);
  if (result == NULL)
    PyErr_WriteUnraisable (watch->run_ended);
  Py_XDECREF (result);
  Py_XDECREF (py_reason);
  Py_XDECREF (self);
  Py_DECREF (watch->run_ended);

  if (watch->held)
    {
      g_atomic_int_add (&n_held, -1);
      PyGILState_Release (watch->token);
    }
  g_free (watch);
  /* The last count of a held thread state: it is deleted here. */
  PyGILState_Release (state);
}

static PyObject *
genserver_watch_run (PyObject         *module,
                     PyObject *const  *args,
                     Py_ssize_t        n_args)
{
  GenServer *server;
  RunWatch *watch;
  int hold;

  if (n_args != 3 || !PyCallable_Check (args[2]))
    {
      PyErr_SetString (PyExc_TypeError, "watch_run() takes a server, a bool and a function");
      return NULL;
    }
  if ((server = server_of (args[0])) == NULL || (hold = PyObject_IsTrue (args[1])) < 0)
    return NULL;

  watch = g_new0 (RunWatch, 1);
  watch->run_ended = Py_NewRef (args[2]);
  watch->held = hold;
  if (hold)
    {
      /* With the GIL, from a handler: Ensure only counts. */
      watch->token = PyGILState_Ensure ();
      g_atomic_int_inc (&n_held);
    }
  gen_server_add_run_end_func (server, run_watch_ended, watch, NULL);
  Py_RETURN_NONE;
}

static PyObject *
genserver_held_thread_states (PyObject *module,
                              PyObject *unused)
{
  return PyLong_FromLong (g_atomic_int_get (&n_held));
}

/* chain_terminate(server, gtype): runs the terminate of @gtype's class
 * with a NULL reason (a normal stop), which PyGObject 3.42 cannot pass
 * for a GError argument. Does nothing when that class keeps GenServer's
 * own terminate, which does nothing. */
static PyObject *
genserver_chain_terminate (PyObject         *module,
                           PyObject *const  *args,
                           Py_ssize_t        n_args)
{
  GenServerClass *klass, *server_class;
  GenServer *server;
  GType type;

  if (n_args != 2)
    {
      PyErr_SetString (PyExc_TypeError, "chain_terminate() takes a server and a GType");
      return NULL;
    }
  if ((server = server_of (args[0])) == NULL)
    return NULL;
  type = pyg_type_from_object (args[1]);
  if (type == 0)
    return NULL;
  if (!g_type_is_a (type, GEN_TYPE_SERVER) || !G_TYPE_CHECK_INSTANCE_TYPE (server, type))
    {
      PyErr_SetString (PyExc_TypeError, "chain_terminate() takes a Gen.Server type of the server");
      return NULL;
    }

  klass = g_type_class_ref (type);
  server_class = g_type_class_peek (GEN_TYPE_SERVER);
  if (klass->terminate != NULL && klass->terminate != server_class->terminate)
    {
      Py_BEGIN_ALLOW_THREADS
      klass->terminate (server, NULL);
      Py_END_ALLOW_THREADS
    }
  g_type_class_unref (klass);
  Py_RETURN_NONE;
}

/* statem_stop(machine): gen_statem_stop_and_reply() with a NULL reason (a
 * normal stop), which PyGObject 3.42 cannot pass for a GError argument. */
static PyObject *
genserver_statem_stop (PyObject *module,
                       PyObject *machine)
{
  GObject *object = NULL;

  if (PyObject_TypeCheck (machine, &PyGObject_Type))
    object = pygobject_get (machine);
  if (object == NULL || !GEN_IS_STATEM (object))
    {
      PyErr_SetString (PyExc_TypeError, "statem_stop() takes a Gen.Statem");
      return NULL;
    }
  gen_statem_stop_and_reply (GEN_STATEM (object), NULL);
  Py_RETURN_NONE;
}

/* Messages handed to cast handlers ---------------------------------------
 *
 * A handler reads its message through GLib.Variant's methods, each a GI
 * call that lets go of the GIL, and GLib.Variant's __del__ gives the
 * GVariant back through one more. With a producer waiting for the GIL, it
 * then changes hands inside every handler, twice. So a cast handler gets a
 * subclass of GLib.Variant whose getters of plain values, unpack() and
 * get_type_string() read the GVariant here, and whose end unrefs it here:
 * the same values, the GIL kept. Asked for another type's value (a getter
 * that GLib refuses with a critical), they leave it to GLib.Variant's own
 * method, which behaves as it always did. */

static PyTypeObject *message_class;

/* GLib.Variant's own @name, called on @self. */
static PyObject *
message_inherited (PyObject    *self,
                   const gchar *name)
{
  PyObject *method = PyObject_GetAttrString (variant_class, name);
  PyObject *result;

  if (method == NULL)
    return NULL;
  result = PyObject_CallOneArg (method, self);
  Py_DECREF (method);
  return result;
}

#define MESSAGE_GETTER(method, of_kind, value)                            \
  static PyObject *                                                       \
  message_##method (PyObject *self,                                       \
                    PyObject *unused)                                     \
  {                                                                       \
    GVariant *variant = pyg_pointer_get_ptr (self);                       \
    GVariantClass kind;                                                   \
                                                                          \
    if (variant == NULL)                                                  \
      return message_inherited (self, #method);                           \
    kind = g_variant_classify (variant);                                  \
    if (!(of_kind))                                                       \
      return message_inherited (self, #method);                           \
    return value;                                                         \
  }

MESSAGE_GETTER (get_boolean, kind == G_VARIANT_CLASS_BOOLEAN,
                PyBool_FromLong (g_variant_get_boolean (variant)))
MESSAGE_GETTER (get_byte, kind == G_VARIANT_CLASS_BYTE,
                PyLong_FromLong (g_variant_get_byte (variant)))
MESSAGE_GETTER (get_int16, kind == G_VARIANT_CLASS_INT16,
                PyLong_FromLong (g_variant_get_int16 (variant)))
MESSAGE_GETTER (get_uint16, kind == G_VARIANT_CLASS_UINT16,
                PyLong_FromLong (g_variant_get_uint16 (variant)))
MESSAGE_GETTER (get_int32, kind == G_VARIANT_CLASS_INT32,
                PyLong_FromLong (g_variant_get_int32 (variant)))
MESSAGE_GETTER (get_uint32, kind == G_VARIANT_CLASS_UINT32,
                PyLong_FromUnsignedLong (g_variant_get_uint32 (variant)))
MESSAGE_GETTER (get_int64, kind == G_VARIANT_CLASS_INT64,
                PyLong_FromLongLong (g_variant_get_int64 (variant)))
MESSAGE_GETTER (get_uint64, kind == G_VARIANT_CLASS_UINT64,
                PyLong_FromUnsignedLongLong (g_variant_get_uint64 (variant)))
MESSAGE_GETTER (get_handle, kind == G_VARIANT_CLASS_HANDLE,
                PyLong_FromLong (g_variant_get_handle (variant)))
MESSAGE_GETTER (get_double, kind == G_VARIANT_CLASS_DOUBLE,
                PyFloat_FromDouble (g_variant_get_double (variant)))
MESSAGE_GETTER (get_string, kind == G_VARIANT_CLASS_STRING ||
                kind == G_VARIANT_CLASS_OBJECT_PATH || kind == G_VARIANT_CLASS_SIGNATURE,
                unpack_value (variant))

static PyObject *
message_get_type_string (PyObject *self,
                         PyObject *unused)
{
  GVariant *variant = pyg_pointer_get_ptr (self);

  if (variant == NULL)
    return message_inherited (self, "get_type_string");
  return PyUnicode_FromString (g_variant_get_type_string (variant));
}

static PyObject *
message_unpack (PyObject *self,
                PyObject *unused)
{
  GVariant *variant = pyg_pointer_get_ptr (self);
  PyObject *value = variant != NULL ? unpack_value (variant) : NULL;

  if (value == NULL && !PyErr_Occurred ())
    return message_inherited (self, "unpack");
  return value;
}

/* In place of GLib.Variant.__del__, which unrefs through GI. */
static void
message_finalize (PyObject *self)
{
  GVariant *variant = pyg_pointer_get_ptr (self);

  pyg_pointer_set_ptr (self, NULL);
  if (variant != NULL)
    g_variant_unref (variant);
}

#define MESSAGE_METHOD(name, doc) \
  { #name, message_##name, METH_NOARGS, doc }

static PyMethodDef message_methods[] = {
  MESSAGE_METHOD (get_boolean, "The value of a b message."),
  MESSAGE_METHOD (get_byte, "The value of a y message."),
  MESSAGE_METHOD (get_int16, "The value of an n message."),
  MESSAGE_METHOD (get_uint16, "The value of a q message."),
  MESSAGE_METHOD (get_int32, "The value of an i message."),
  MESSAGE_METHOD (get_uint32, "The value of a u message."),
  MESSAGE_METHOD (get_int64, "The value of an x message."),
  MESSAGE_METHOD (get_uint64, "The value of a t message."),
  MESSAGE_METHOD (get_handle, "The value of an h message."),
  MESSAGE_METHOD (get_double, "The value of a d message."),
  MESSAGE_METHOD (get_string, "The text of an s, o or g message."),
  MESSAGE_METHOD (get_type_string, "The message's type string."),
  MESSAGE_METHOD (unpack, "The message as Python values, as GLib.Variant.unpack() gives them."),
  { NULL, NULL, 0, NULL },
};

/* Where a message keeps whether anything was stored on it: past
 * GLib.Variant's own fields (see PyInit__genserver). */
static Py_ssize_t message_touched_offset;

#define MESSAGE_TOUCHED(object) (*(gboolean *) ((char *) (object) + message_touched_offset))

static int
message_setattro (PyObject *self,
                  PyObject *name,
                  PyObject *value)
{
  MESSAGE_TOUCHED (self) = TRUE;
  return PyObject_GenericSetAttr (self, name, value);
}

static PyType_Slot message_slots[] = {
  { Py_tp_doc, (void *) "A GLib.Variant handed to a cast handler: its getters keep the GIL." },
  { Py_tp_methods, message_methods },
  { Py_tp_finalize, message_finalize },
  { Py_tp_setattro, message_setattro },
  { 0, NULL },
};

static PyType_Spec message_spec = {
  .name = "gi.overrides._genserver.Message",
  .basicsize = 0,  /* set at import: GLib.Variant's and a gboolean */
  .flags = Py_TPFLAGS_DEFAULT,
  .slots = message_slots,
};

/* A message no handler kept, for the next one: making a GLib.Variant
 * object and freeing it cost about as much as the rest of a small
 * handler (PyGObject's struct dealloc looks its type's __info__ up every
 * time). With the GIL. */
static PyObject *spare_message;

/* A message for @variant, made as PyGObject makes a GLib.Variant for a
 * GVariant argument (a reference sunk for the object; only the public
 * PyGPointer fields set), without pyg_value_as_pyobject(), which imports
 * the class's module every time. */
static PyObject *
wrap_message (GVariant *variant)
{
  PyObject *object = g_steal_pointer (&spare_message);

  if (object == NULL)
    {
      object = message_class->tp_alloc (message_class, 0);
      if (object == NULL)
        return NULL;
      ((PyGPointer *) object)->gtype = G_TYPE_VARIANT;
    }
  pyg_pointer_set_ptr (object, g_variant_ref_sink (variant));
  return object;
}

/* Drops the handler's message, or keeps it as the spare when nothing else
 * holds it and nothing was stored on it (no attribute, no weak
 * reference): nobody can tell it from a fresh one. */
static void
release_message (PyObject *message)
{
  PyObject **weak_references =
    (PyObject **) ((char *) message + Py_TYPE (message)->tp_weaklistoffset);

  if (spare_message == NULL && Py_REFCNT (message) == 1 && !MESSAGE_TOUCHED (message) &&
      (Py_TYPE (message)->tp_weaklistoffset == 0 || *weak_references == NULL))
    {
      message_finalize (message);
      spare_message = message;
      return;
    }
  Py_DECREF (message);
}

/* Cast handlers ------------------------------------------------------------ */

/* Interned names; GLib.Error. */
static PyObject *do_handle_cast_name;
static PyObject *wrapped_name;
static PyObject *gen_wrapped_name;
static PyObject *error_class;

/* The override's function that makes a handler's exception the GLib.Error
 * C sees, and logs a crash (_cast_raised in Gen.py); set by
 * fast_handle_cast(). */
static PyObject *cast_raised;

/* The handler each do_handle_cast wrapper of the override wraps, or None
 * for a function of another kind: {wrapper: handler}. With the GIL. */
static PyObject *handlers;

/* Key in a thread state's dict, set once the override's wrapper ran a
 * cast on that thread state: the wrapper then set the thread state up
 * (see _thread_state in Gen.py), and later casts can skip the wrapper. */
static PyObject *ready_key;

/* The handler that @self's do_handle_cast wraps (borrowed), or NULL with
 * no exception set when the wrapper must run: a do_handle_cast that is
 * not the override's, or this thread state's first cast. */
static PyObject *
cast_handler_of (PyObject *self)
{
  /* The last class looked up, only compared, at the version its
   * attributes had (Python gives a class a new one whenever they or its
   * bases' change), and what it gave (borrowed from handlers). With the
   * GIL. */
  static PyTypeObject *last_type;
  static unsigned int last_version;
  static PyObject *last_handler;
  PyTypeObject *type = Py_TYPE (self);
  PyObject *dict = PyThreadState_GetDict ();
  PyObject *wrapper, *handler, *ours;

  if (dict == NULL || PyDict_GetItemWithError (dict, ready_key) == NULL)
    return NULL;
  if (type == last_type && PyType_HasFeature (type, Py_TPFLAGS_VALID_VERSION_TAG) &&
      type->tp_version_tag == last_version)
    return last_handler;

  wrapper = PyObject_GetAttr ((PyObject *) type, do_handle_cast_name);
  if (wrapper == NULL)
    {
      PyErr_Clear ();
      return NULL;
    }
  handler = PyDict_GetItemWithError (handlers, wrapper);
  if (handler == NULL && !PyErr_Occurred ())
    {
      /* First met: the override's wrapper says so, and wraps __wrapped__. */
      ours = PyObject_GetAttr (wrapper, gen_wrapped_name);
      handler = ours != NULL && PyObject_IsTrue (ours) == 1
        ? PyObject_GetAttr (wrapper, wrapped_name) : Py_NewRef (Py_None);
      Py_XDECREF (ours);
      if (handler == NULL || PyDict_SetItem (handlers, wrapper, handler) < 0)
        Py_CLEAR (handler);
      Py_XDECREF (handler);  /* the dict holds it */
    }
  Py_DECREF (wrapper);
  PyErr_Clear ();
  if (handler == Py_None)
    handler = NULL;
  /* The look-up gave the class a valid version, unless it could not. */
  if (PyType_HasFeature (type, Py_TPFLAGS_VALID_VERSION_TAG))
    {
      last_type = type;
      last_version = type->tp_version_tag;
      last_handler = handler;
    }
  return handler;
}

/* The handle_cast of a Python server, in place of PyGObject's vfunc
 * closure: the instance's do_handle_cast, without the closure's
 * marshalling through the typelib, which costs several times the handler
 * itself. Once the override's wrapper of do_handle_cast has run on this
 * thread state, the handler it wraps is called directly, and only an
 * exception goes through the override (_cast_raised) as it would through
 * the wrapper. A GLib.Error becomes @error, as PyGObject would make it. */
static void
python_handle_cast (GenServer  *server,
                    GVariant   *message,
                    GError    **error)
{
  PyGILState_STATE state = PyGILState_Ensure ();
  PyObject *self, *py_message = NULL, *result = NULL, *handler;

  self = pygobject_new (G_OBJECT (server));
  if (self != NULL)
    py_message = wrap_message (message);
  if (py_message != NULL && (handler = cast_handler_of (self)) != NULL)
    {
      PyObject *args[2] = { self, py_message };

      result = PyObject_Vectorcall (handler, args, 2, NULL);
      if (result == NULL && !PyErr_ExceptionMatches (error_class))
        {
          PyObject *type, *value, *traceback;

          PyErr_Fetch (&type, &value, &traceback);
          PyErr_NormalizeException (&type, &value, &traceback);
          if (traceback != NULL)
            PyException_SetTraceback (value, traceback);
          /* Raises the GLib.Error. */
          result = PyObject_CallFunctionObjArgs (cast_raised, self, value, NULL);
          Py_XDECREF (type);
          Py_XDECREF (value);
          Py_XDECREF (traceback);
        }
    }
  else if (py_message != NULL && !PyErr_Occurred ())
    {
      result = PyObject_CallMethodOneArg (self, do_handle_cast_name, py_message);
      if (result != NULL)
        {
          PyObject *dict = PyThreadState_GetDict ();

          if (dict == NULL || PyDict_SetItem (dict, ready_key, Py_True) < 0)
            PyErr_Clear ();
        }
    }

  if (result == NULL && !pyg_gerror_exception_check (error))
    {
      /* Only a bug of this module or the override gets here: the
       * override raises GLib.Error for everything else. */
      PyErr_Print ();
      g_set_error_literal (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                           "do_handle_cast failed; see the Python traceback");
    }
  Py_XDECREF (result);
  if (py_message != NULL)
    release_message (py_message);
  Py_XDECREF (self);
  PyGILState_Release (state);
}

/* fast_handle_cast(gtype, cast_raised): makes python_handle_cast the
 * handle_cast of the Python class @gtype, whose do_handle_cast is the
 * override's. */
static PyObject *
genserver_fast_handle_cast (PyObject         *module,
                            PyObject *const  *args,
                            Py_ssize_t        n_args)
{
  GenServerClass *klass;
  GType type;

  if (n_args != 2 || !PyCallable_Check (args[1]))
    {
      PyErr_SetString (PyExc_TypeError, "fast_handle_cast() takes a GType and a function");
      return NULL;
    }
  type = pyg_type_from_object (args[0]);
  if (type == 0)
    return NULL;
  if (!g_type_is_a (type, GEN_TYPE_SERVER))
    {
      PyErr_SetString (PyExc_TypeError, "fast_handle_cast() takes a Gen.Server type");
      return NULL;
    }
  Py_XSETREF (cast_raised, Py_NewRef (args[1]));
  /* Classes live as long as the program: the reference is kept. */
  klass = g_type_class_ref (type);
  klass->handle_cast = python_handle_cast;
  Py_RETURN_NONE;
}

static PyMethodDef genserver_methods[] = {
  { "cast_method", genserver_cast_method, METH_O,
    "cast_method(cast_through_gi): Server.cast, in C." },
  { "call_value", (PyCFunction) (void (*) (void)) genserver_call_value, METH_FASTCALL,
    "call_value(server, type_string, value, timeout_ms, is_variant): calls, unpacks." },
  { "address", genserver_address, METH_O,
    "address(variant): the GVariant's address." },
  { "watch_run", (PyCFunction) (void (*) (void)) genserver_watch_run, METH_FASTCALL,
    "watch_run(server, hold, run_ended): run_ended(server, reason) at every end of the "
    "server's current run, on its thread; with hold, keeps this thread state until then." },
  { "held_thread_states", genserver_held_thread_states, METH_NOARGS,
    "held_thread_states(): how many thread states runs hold now (for tests)." },
  { "chain_terminate", (PyCFunction) (void (*) (void)) genserver_chain_terminate, METH_FASTCALL,
    "chain_terminate(server, gtype): a C terminate, with a NULL reason." },
  { "statem_stop", genserver_statem_stop, METH_O,
    "statem_stop(machine): the stop action with a normal reason." },
  { "fast_handle_cast", (PyCFunction) (void (*) (void)) genserver_fast_handle_cast,
    METH_FASTCALL,
    "fast_handle_cast(gtype, cast_raised): handle_cast calls do_handle_cast directly." },
  { NULL, NULL, 0, NULL },
};

static struct PyModuleDef genserver_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "_genserver",
  .m_doc = "The hot path of the Gen override.",
  .m_size = 0,
  .m_methods = genserver_methods,
};

PyMODINIT_FUNC PyInit__genserver (void);

PyMODINIT_FUNC
PyInit__genserver (void)
{
  PyObject *gobject = pygobject_init (-1, -1, -1);
  PyObject *glib, *bases;

  if (gobject == NULL)
    return NULL;
  Py_DECREF (gobject);

  glib = PyImport_ImportModule ("gi.repository.GLib");
  if (glib == NULL)
    return NULL;
  variant_class = PyObject_GetAttrString (glib, "Variant");
  if (variant_class == NULL)
    {
      Py_DECREF (glib);
      return NULL;
    }
  if (!PyType_Check (variant_class) ||
      !PyType_IsSubtype ((PyTypeObject *) variant_class, &PyGPointer_Type))
    {
      PyErr_SetString (PyExc_ImportError, "GLib.Variant is not a PyGObject pointer type");
      Py_DECREF (glib);
      return NULL;
    }
  error_class = PyObject_GetAttrString (glib, "Error");
  Py_DECREF (glib);
  if (error_class == NULL)
    return NULL;
  bases = PyTuple_Pack (1, variant_class);
  if (bases == NULL)
    return NULL;
  cast_method_class = (PyTypeObject *) PyType_FromSpec (&cast_method_spec);
  message_name = PyUnicode_InternFromString ("message");
  if (cast_method_class == NULL || message_name == NULL)
    return NULL;

  message_touched_offset = ((PyTypeObject *) variant_class)->tp_basicsize;
  message_spec.basicsize = message_touched_offset + sizeof (gboolean);
  message_class = (PyTypeObject *) PyType_FromSpecWithBases (&message_spec, bases);
  Py_DECREF (bases);
  if (message_class == NULL)
    return NULL;

  do_handle_cast_name = PyUnicode_InternFromString ("do_handle_cast");
  wrapped_name = PyUnicode_InternFromString ("__wrapped__");
  gen_wrapped_name = PyUnicode_InternFromString ("_gen_wrapped");
  ready_key = PyUnicode_InternFromString ("gi.overrides._genserver.ready");
  handlers = PyDict_New ();
  if (do_handle_cast_name == NULL || wrapped_name == NULL || gen_wrapped_name == NULL ||
      ready_key == NULL || handlers == NULL)
    return NULL;
  return PyModuleDef_Init (&genserver_module);
}
