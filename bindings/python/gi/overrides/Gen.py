# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject override for genserver: makes ``Gen.Server`` Pythonic.

A thin layer over the C API (every check, queue and timeout stays in C):

- ``cast(value)`` and ``call(value, timeout=5.0)`` take plain Python values
  and wrap them in a ``GLib.Variant`` of the server's declared type, or of a
  type inferred from the value when none is declared; ``call`` returns the
  reply unpacked. A ``GLib.Variant`` is always passed through as it is.
- Timeouts are in **seconds** (float), as everywhere in Python; ``None``
  waits as long as it takes.
- An exception raised in ``do_init``, ``do_handle_call``,
  ``do_handle_cast``, ``do_handle_info`` or ``do_handle_continue`` reaches C as a ``GLib.Error``
  (``Gen.ServerError.FAILED``, message ``"TypeName: message"``), so a C
  caller gets that, while a Python caller of ``call`` (or ``start``) gets
  the exception itself raised, of its own type; the server goes on (for
  ``handle_call``) or crashes as in C (the other handlers), and a crash's
  traceback is logged on the class's logger.
- ``call_async(value, callback)`` and ``await acall(value)`` (no thread per
  call; cancelling the task cancels the call); ``join()`` and ``await
  ajoin()`` wait for the end of a run; ``monitor`` works without a GLib
  main loop in asyncio programs and, with ``threaded=True``, in scripts.
- ``send_info``, ``send_after`` (delay in seconds), ``continue_`` and
  ``Gen.Reply.return_value`` take plain values too.
- Class attributes ``cast_type``, ``call_type`` declare message types (the
  construct properties), ``reply_type`` the type that plain values returned
  by ``do_handle_call`` are wrapped in.
- ``stop_with_reason(reason, timeout=None)`` (``None``: a normal stop),
  ``start_with_timeout``, ``cast_with_timeout``, ``Gen.Registry``,
  ``Gen.Group``, ``Gen.Request`` and the others take plain values and
  seconds too.
- A class that names its handlers as the pure-Python genserver does
  (``handle_cast`` instead of ``do_handle_cast``) is refused when it is
  defined, with the name to use.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import functools
import logging
import sys
import threading
from typing import Any, Callable, Optional

from gi.repository import GLib, GObject, Gio

from ..module import get_introspection_module
from ..overrides import override

Gen = get_introspection_module('Gen')

try:
    # The hot path in C (see _genserver.c), built when python3-dev is there.
    from . import _genserver
except ImportError:
    _genserver = None

__all__ = []

#: The default call timeout, in seconds: GEN_SERVER_DEFAULT_TIMEOUT (5000 ms).
DEFAULT_TIMEOUT = Gen.SERVER_DEFAULT_TIMEOUT / 1000
__all__.append('DEFAULT_TIMEOUT')

_logger = logging.getLogger(__name__)

# The largest timeout C takes (a gint of milliseconds); longer is "forever"
# in practice, and C would otherwise see an overflowed negative number.
_MAX_TIMEOUT_MS = 2**31 - 1


def _timeout_ms(timeout, what="timeout"):
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"{what} must be None or >= 0 seconds, not {timeout!r}")
    return min(_MAX_TIMEOUT_MS, int(round(timeout * 1000)))


def _seconds(milliseconds):
    return None if milliseconds < 0 else milliseconds / 1000


def _keywords_in_ms(kwargs, convert, *names):
    """Constructor keywords: the properties ``names`` (``tick_time`` or
    ``tick-time``) given in seconds, converted to C's milliseconds."""
    for name in names:
        for key in (name, name.replace('_', '-')):
            if key in kwargs:
                kwargs[key] = convert(kwargs[key], name)
    return kwargs


def _duration_ms(seconds, what):
    """A duration that must be positive (no "forever"), in milliseconds."""
    if seconds is None or seconds <= 0:
        raise ValueError(f"{what} must be > 0 seconds, not {seconds!r}")
    return max(1, _timeout_ms(seconds, what))


def _seconds_property(name):
    """``get_NAME()`` and ``set_NAME(seconds)`` for a GObject property in
    milliseconds that C reaches only as a property (``props.NAME`` keeps
    the milliseconds, as ``props.idle_timeout`` does)."""
    prop = name.replace('_', '-')

    def getter(self) -> float:
        return self.get_property(prop) / 1000

    def setter(self, seconds: float) -> None:
        self.set_property(prop, _duration_ms(seconds, name))

    getter.__name__, setter.__name__ = f'get_{name}', f'set_{name}'
    getter.__doc__ = f"The {prop} property, in seconds."
    setter.__doc__ = f"Sets the {prop} property, in seconds (> 0)."
    return getter, setter


def to_variant(value: Any, type_string: Optional[str] = None) -> GLib.Variant:
    """Wraps a Python value in a GLib.Variant.

    A GLib.Variant is returned as it is. With ``type_string``, the value is
    packed as that type if it is the type's natural Python form (a tuple for
    a tuple type, a dict for a dictionary, a str for s...), else TypeError is
    raised. Without one, the type follows the value: bool → b, int → x,
    float → d, str → s, bytes → ay, tuple → a tuple of the inferred types,
    dict with str keys → a{sv}, list → av. Anything else raises TypeError.
    """
    if isinstance(value, GLib.Variant):
        return value
    if type_string is not None:
        variant = _pack(value, type_string)
        if variant.get_type_string() != type_string:
            raise TypeError(f"{type(value).__name__} {value!r} is not a "
                            f"“{type_string}” value")
        return variant
    if isinstance(value, bool):
        return GLib.Variant.new_boolean(value)
    if isinstance(value, int):
        return GLib.Variant.new_int64(value)
    if isinstance(value, float):
        return GLib.Variant.new_double(value)
    if isinstance(value, str):
        return GLib.Variant.new_string(value)
    if isinstance(value, (bytes, bytearray)):
        return GLib.Variant('ay', bytes(value))
    if isinstance(value, tuple):
        return GLib.Variant.new_tuple(*(to_variant(item) for item in value))
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return GLib.Variant('a{sv}', {key: to_variant(item) for key, item in value.items()})
    if isinstance(value, list):
        return GLib.Variant('av', [to_variant(item) for item in value])
    raise TypeError(f"cannot infer a GLib.Variant type for {type(value).__name__} "
                    f"{value!r}; pass a GLib.Variant")


__all__.append('to_variant')


class _NotNatural(Exception):
    """The value is not the natural Python form of the declared type."""


_INTEGER_TYPES = frozenset('ynqiuxth')
# GLib.Variant(type_string, value) parses its format in Python: these
# constructors are several times faster for the basic types messages use
# most. (o and g stay with it: it checks their syntax.)
_NEW_BASIC = {
    'b': GLib.Variant.new_boolean, 'y': GLib.Variant.new_byte,
    'n': GLib.Variant.new_int16, 'q': GLib.Variant.new_uint16,
    'i': GLib.Variant.new_int32, 'u': GLib.Variant.new_uint32,
    'x': GLib.Variant.new_int64, 't': GLib.Variant.new_uint64,
    'h': GLib.Variant.new_handle, 'd': GLib.Variant.new_double,
    's': GLib.Variant.new_string,
}
_STRING_TYPES = frozenset('sog')
# Parsed type strings, by type string: the same few are packed again and again.
_type_trees = {}


def _parse_type(type_string, i):
    code = type_string[i]
    if code in _INTEGER_TYPES or code in _STRING_TYPES or code in 'bdv':
        return (code,), i + 1
    if code == 'm':
        element, i = _parse_type(type_string, i + 1)
        return ('m', element), i
    if code == 'a' and type_string[i + 1] == '{':
        key, i = _parse_type(type_string, i + 2)
        value, i = _parse_type(type_string, i)
        if type_string[i] != '}':
            raise ValueError(type_string)
        return ('{', key, value), i + 1
    if code == 'a':
        element, i = _parse_type(type_string, i + 1)
        return ('a', element), i
    if code == '(':
        items = []
        i += 1
        while type_string[i] != ')':
            item, i = _parse_type(type_string, i)
            items.append(item)
        return ('(', *items), i + 1
    # Indefinite types ('*', '?', 'r') have no natural form: values sent to
    # them keep their inferred type, which C then checks against them.
    raise ValueError(type_string)


def _type_tree(type_string):
    try:
        return _type_trees[type_string]
    except KeyError:
        pass
    try:
        tree, end = _parse_type(type_string, 0)
        if end != len(type_string):
            tree = None
    except (ValueError, IndexError):
        tree = None
    _type_trees[type_string] = tree
    return tree


def _conform(tree, value):
    """Returns ``value`` as GLib.Variant() takes it for ``tree``, or raises
    _NotNatural. Natural forms: bool for b, int (not bool) for the integer
    types, float or int for d, str for s/o/g, anything for v (inferred),
    None or the element's form for maybe types, bytes or a list for ay, a
    list for other arrays, a dict for dictionaries and a tuple of the same
    length for tuples."""
    code = tree[0]
    if code in _INTEGER_TYPES:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif code in _STRING_TYPES:
        if isinstance(value, str):
            return value
    elif code == 'b':
        if isinstance(value, bool):
            return value
    elif code == 'd':
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif code == 'v':
        return to_variant(value)
    elif code == '(':
        if isinstance(value, tuple) and len(value) == len(tree) - 1:
            return tuple(_conform(item, element) for item, element in zip(tree[1:], value))
    elif code == 'a':
        if tree[1] == ('y',) and isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, list):
            return [_conform(tree[1], element) for element in value]
    elif code == '{':
        if isinstance(value, dict):
            return {_conform(tree[1], key): _conform(tree[2], element)
                    for key, element in value.items()}
    elif code == 'm':
        return None if value is None else _conform(tree[1], value)
    raise _NotNatural


def _pack(value, type_string):
    """Packs ``value`` as ``type_string`` if it is that type's natural Python
    form, else by inference (see to_variant)."""
    if isinstance(value, GLib.Variant):
        return value
    if type_string is not None:
        tree = _type_tree(type_string)
        if tree is not None:
            try:
                conformed = _conform(tree, value)
            except _NotNatural:
                pass
            else:
                # A natural form out of range (300 for 'y') raises here.
                new = _NEW_BASIC.get(type_string)
                if new is not None:
                    return new(conformed)
                return GLib.Variant(type_string, conformed)
    return to_variant(value)


def _message(value, type_string):
    # A value that is not the declared type's natural form is sent with the
    # type it has, never reshaped to fit (a dict is not a tuple of its keys):
    # C then refuses it with INVALID_MESSAGE naming both types, the one guard
    # every language shares.
    return _pack(value, type_string)


def _escape(text):
    # Lone surrogates (from os.fsdecode, say) cannot become UTF-8: they are
    # written as \udcXX rather than lose the whole message.
    return text.encode('utf-8', 'backslashreplace').decode('utf-8')


def _exception_text(exc):
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not hide the exception itself
        text = '<unprintable>'
    name = type(exc).__name__
    return _escape(f"{name}: {text}" if text else name)


def _server_error(exc):
    return GLib.Error.new_literal(Gen.server_error_quark(), _exception_text(exc),
                                  Gen.ServerError.FAILED)


# --- Exceptions keep their type for Python callers -------------------------
#
# C sees a handler's exception as a GLib.Error (FAILED, "TypeName: text"),
# the one form every language understands. A Python caller in the same
# process gets the exception itself back, as Pykka does. The error that
# crosses C carries no room for a Python object, so the handler leaves its
# exception here under the call's key, (the server, the message's GVariant
# address): the caller holds that message for the whole call, so no other
# call has its address meanwhile. The caller takes it when an error with the
# same text comes back. Exceptions nobody takes (the caller was C, or gave
# up) are dropped oldest first beyond _RAISED_LIMIT.
_RAISED_LIMIT = 4096
_raised_lock = threading.Lock()
# (id(server), message address) -> [(error text, exception)]; under _raised_lock.
_raised = collections.OrderedDict()

_address_of = getattr(_genserver, 'address', None)


def _message_key(message):
    if message is None:
        return 0
    if _address_of is not None:
        return _address_of(message)
    # GLib.Variant's own hash is by value; the GPointer's is by address.
    return GObject.GPointer.__hash__(message)


def _leave_exception(server, message, exc, text):
    key = (id(server), _message_key(message))
    with _raised_lock:
        _raised.setdefault(key, []).append((text, exc))
        _raised.move_to_end(key)
        while len(_raised) > _RAISED_LIMIT:
            _raised.popitem(last=False)


def _take_exception(server, key, error):
    """The exception a handler raised for the call keyed ``key`` whose
    error is ``error``, or ``error`` itself."""
    if (not isinstance(error, GLib.Error) or error.code != Gen.ServerError.FAILED
            or error.domain != _SERVER_ERROR_DOMAIN):
        return error
    key = (id(server), key)
    with _raised_lock:
        left = _raised.get(key)
        if not left:
            return error
        for i, (text, exc) in enumerate(left):
            if text == error.message:
                del left[i]
                if not left:
                    del _raised[key]
                return exc
    return error


def _raise_error(server, key, error):
    exc = _take_exception(server, key, error)
    if exc is error:
        raise error
    raise exc


_SERVER_ERROR_DOMAIN = GLib.quark_to_string(Gen.server_error_quark())


def _call_result(server, result):
    # What _genserver.call_value() returns: see there.
    if result[0] == 0:
        return result[1]
    if result[0] == 1:
        _, domain, code, text, key = result
        _raise_error(server, key, GLib.Error.new_literal(GLib.quark_from_string(domain),
                                                         text, code))
    _, type_string, data = result
    return GLib.Variant.new_from_bytes(GLib.VariantType.new(type_string),
                                       GLib.Bytes.new(data), False).unpack()


def _reply(server, result):
    reply_type = type(server).reply_type
    if result is None:
        return None
    if reply_type is None:
        return to_variant(result)
    variant = _pack(result, reply_type)
    if not variant.get_type().is_subtype_of(GLib.VariantType.new(reply_type)):
        raise GLib.Error.new_literal(
            Gen.server_error_quark(),
            _escape(f"{type(server).__gtype__.name} replies with type “{reply_type}”, "
                    f"its do_handle_call returned “{variant.get_type_string()}”"),
            Gen.ServerError.FAILED)
    return variant


# --- Logging -----------------------------------------------------------------
#
# A server's own records go to the logger named after its class, as
# logging.getLogger(__name__) would in its module: "shop.Cart", or
# "shop.Outer.Cart" for a nested class (its __qualname__).

def _class_logger(cls):
    return logging.getLogger(f"{cls.__module__}.{cls.__qualname__}")


def _log_exception(server, level, text, exc):
    """Logs ``exc`` with its traceback, the record placed where it was
    raised (``%(pathname)s:%(lineno)d`` is the handler's line)."""
    logger = _class_logger(type(server))
    if not logger.isEnabledFor(level):
        return
    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    if traceback is not None:
        code = traceback.tb_frame.f_code
        path, line, function = code.co_filename, traceback.tb_lineno, code.co_name
    else:
        path, line, function = '(unknown file)', 0, None
    record = logger.makeRecord(logger.name, level, path, line, '%s', (text,),
                               (type(exc), exc, exc.__traceback__), function)
    logger.handle(record)


# --- Python thread states and the end of a run -------------------------------
#
# PyGObject runs a vfunc on a thread Python did not start by creating a
# Python thread state, and destroys it when the vfunc returns: that costs
# more than the handler itself. A server with a thread of its own therefore
# holds one more PyGILState_Ensure() for its run (through _genserver: the C
# API has no Python binding), so that the thread state lives from the first
# handler to the end of the run. The core calls _genserver back on that
# thread at every end of a run (gen_server_add_run_end_func), also when init
# fails and when a link's exit signal ends the run without do_terminate,
# and the thread state goes then. Servers whose handlers run on threads
# they do not own (a main context, a scheduler's workers) hold nothing: such
# a thread may outlive the run. Without _genserver nothing is held: only
# slower.

# .held: whether this thread state is held for a run; unset until this
# thread state runs its first handler.
_thread_state = threading.local()


def _owns_its_thread(server):
    return (server.get_main_context() is None
            and getattr(server.props, 'scheduler', None) is None)


def _hold_thread_state(server):
    held = _genserver is not None and _owns_its_thread(server)
    if held:
        _genserver.watch_run(server, True, _run_ended)
    _thread_state.held = held


def _run_ended(server, reason):
    # On the server's thread, at every end of a run, before stop() returns
    # and before the monitors hear of it (see Server.join). After
    # do_terminate, which set both already, unless an exit signal skipped it.
    if not getattr(server, '_gen_run_ended', False):
        server._gen_last_reason = _reason(server, reason)
        server._gen_run_ended = True


# Handlers whose exception is a crash (the server stops with it as reason).
_CRASHING = frozenset(('do_handle_cast', 'do_handle_info', 'do_handle_continue'))


def _wrap_handler(handler, name):
    if name == 'do_terminate':
        return _wrap_terminate(handler)

    @functools.wraps(handler)
    def wrapper(self, *args):
        if name == 'do_init':
            self._gen_run_ended = self._gen_run_told = False  # (see Server._run_over)
        if not hasattr(_thread_state, 'held'):
            _hold_thread_state(self)
        if name == 'do_init' and not _thread_state.held and _genserver is not None:
            # The end of every run of a server on a shared thread too.
            _genserver.watch_run(self, False, _run_ended)
        try:
            result = handler(self, *args)
            return _reply(self, result) if name == 'do_handle_call' else result
        except GLib.Error:
            raise
        except BaseException as exc:
            raise _handler_error(self, name, args, exc)

    wrapper._gen_wrapped = True
    return wrapper


def _handler_error(self, name, args, exc):
    """The GLib.Error C gets for ``exc``, raised by the handler ``name``
    called with ``args`` (not a GLib.Error: that goes to C as it is)."""
    if isinstance(exc, Exception):
        # PyGObject only prints other exceptions and hands C no error.
        text = _exception_text(exc)
        qualname = type(self).__qualname__
        if name in _CRASHING:
            _log_exception(self, logging.ERROR, f"{qualname} crashed in {name}: {text}", exc)
            self._gen_crash = (text, exc)
        else:
            _log_exception(self, logging.DEBUG, f"{qualname}.{name} raised {text}", exc)
            # For the Python caller of start() or call().
            _leave_exception(self, args[0], exc, text)
        error = GLib.Error.new_literal(Gen.server_error_quark(), text, Gen.ServerError.FAILED)
        error.__cause__ = exc
        return error
    # SystemExit, KeyboardInterrupt and the like end the server, as they
    # end a Python thread, never the program: PyGObject would print them,
    # and for SystemExit try to exit the process from this thread, which
    # never returns. They reach the caller as GLib.Error only: raised
    # there, they would end the caller too.
    error = _server_error(exc)
    # Quiet for SystemExit, as threading is: it asks to end.
    _log_exception(self, logging.DEBUG if isinstance(exc, SystemExit) else logging.ERROR,
                   f"{type(self).__qualname__}.{name} raised {error.message}", exc)
    if name == 'do_handle_call':
        # A call's error only fails the call: crash explicitly (from a
        # handler this takes effect when the handler returns).
        Gen.Server.stop_with_reason(self, error, 0)
    error.__suppress_context__ = True
    return error


def _cast_raised(self, exc):
    # For _genserver, which calls do_handle_cast's handler without the
    # wrapper once a thread is set up: what the wrapper does with ``exc``.
    raise _handler_error(self, 'do_handle_cast', (), exc)


def _wrap_terminate(handler):
    @functools.wraps(handler)
    def wrapper(self, reason):
        # What join() returns once the run is over (see Server.join).
        reason = self._gen_last_reason = _reason(self, reason)
        try:
            handler(self, reason)
        except BaseException as exc:  # GLib.Error and SystemExit included
            # terminate has no caller to raise to: logged, with the same
            # "TypeName: message" text the other handlers' errors carry.
            _log_exception(self, logging.WARNING,
                           f"{type(self).__qualname__}.do_terminate raised "
                           f"{_exception_text(exc)}", exc)
        finally:
            self._gen_run_ended = True

    wrapper._gen_wrapped = True
    return wrapper


def _reason(server, reason):
    """The reason as C gives it (None for a normal stop, else a
    GLib.Error), with the exception that crashed a Python server as its
    ``__cause__``, traceback and all."""
    crash = getattr(server, '_gen_crash', None)
    if (crash is not None and isinstance(reason, GLib.Error)
            and reason.domain == _SERVER_ERROR_DOMAIN
            and reason.code == Gen.ServerError.FAILED and reason.message == crash[0]):
        reason.__cause__ = crash[1]
    return reason


# --- Asynchronous calls without a GLib main loop -----------------------------
#
# gen_server_call_async() delivers its result on the caller's thread-default
# GLib.MainContext, and monitors their notices likewise; asyncio programs
# and scripts iterate none. So one helper thread, started on first use,
# runs a GLib.MainLoop on a context of its own and makes those calls: their
# results arrive there, and are handed to the asyncio loop with
# call_soon_threadsafe (or, for threaded monitors, given to the callback
# right there). One thread for every call, instead of one per call: a
# thousand calls waiting on slow handlers cost one thread and a thousand
# small closures. A context cannot be made thread-default on a thread that
# does not own it (g_main_context_push_thread_default() acquires it), so
# the calls are started on the helper thread itself: requests queue in
# _pending and one idle source drains them all.

class _Helper:
    def __init__(self, name):
        self._name = name
        self._lock = threading.Lock()
        # Under _lock: the thread and its context, made on first use; the
        # requests not yet run, and whether a source to run them is attached.
        self._thread = None
        self._context = None
        self._loop = None
        self._pending = collections.deque()
        self._scheduled = False

    def _start(self):
        context = GLib.MainContext.new()
        loop = GLib.MainLoop.new(context, False)

        def run():
            context.push_thread_default()
            loop.run()
            context.pop_thread_default()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._context, self._loop = context, loop
        self._thread.start()
        atexit.register(loop.quit)

    def submit(self, func, *args):
        """Runs ``func(*args)`` on the helper thread, soon."""
        with self._lock:
            if self._thread is None:
                self._start()
            self._pending.append((func, args))
            if self._scheduled:
                return
            self._scheduled = True
            context = self._context
        source = GLib.idle_source_new()
        source.set_callback(self._drain)
        source.attach(context)

    def _drain(self, _user_data):
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for func, args in batch:
            try:
                func(*args)
            except Exception:
                _logger.exception("%s raised on the helper thread", func)
        return GLib.SOURCE_REMOVE

    def run(self, func, *args):
        """Runs ``func(*args)`` on the helper thread and returns its result."""
        if threading.current_thread() is self._thread:
            return func(*args)
        ran = threading.Event()
        outcome = []

        def job():
            try:
                outcome.append((True, func(*args)))
            except BaseException as exc:
                outcome.append((False, exc))
            ran.set()

        self.submit(job)
        ran.wait()
        succeeded, value = outcome[0]
        if not succeeded:
            raise value
        return value

    async def call(self, start, finish, target, *args):
        """Awaits ``start(target, *args, cancellable, callback)``, a GIO-style
        asynchronous call, and returns (error, result) from ``finish`` (or
        the exception ``start`` raised).
        Cancelling the awaiting task cancels the call's cancellable; a task
        cancelled before the helper thread got to the call makes none."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        cancellable = Gio.Cancellable()

        def settle(outcome):
            if not future.done():
                future.set_result(outcome)

        def done(source, result, *_user_data):
            try:
                outcome = (None, finish(source, result))
            except GLib.Error as error:
                outcome = (error, None)
            _call_soon(loop, settle, outcome)

        def begin():
            # Cancelled while queued here: begun now, the call would hold
            # its target until the cancellation, posted to this thread, is
            # settled, and whatever the task's owner began next on it, in
            # this same batch, would find it busy (a second wait of one
            # request fails PENDING). A call begun before the cancellation
            # is settled by a source at the default priority, before the
            # idle source that runs anything submitted after it.
            if cancellable.is_cancelled():
                return
            try:
                start(target, *args, cancellable, done)
            except Exception as exc:  # refused before any call was made
                _call_soon(loop, settle, (exc, None))

        self.submit(begin)
        try:
            return await future
        except asyncio.CancelledError:
            # Fails the call at once; a request still queued is never run.
            cancellable.cancel()
            raise


_helper = _Helper('Gen helper')
# Where remotes made from Python listen to D-Bus (see Remote.new_sync): a
# thread of its own, since making one waits for the peer's answers, which
# must not hold up the calls the helper runs.
_listener = _Helper('Gen D-Bus listener')


def _call_soon(loop, func, *args):
    try:
        loop.call_soon_threadsafe(func, *args)
    except RuntimeError:
        pass  # the loop is closed: nobody waits any more


def _monitor_callback(callback, user_data):
    def notice(server, reason, *_gi_user_data):
        callback(server, _reason(server, reason), *user_data)
    return notice


def _monitor(gi_monitor, target, callback, user_data, threaded):
    # Server.monitor and Remote.monitor: see Server.monitor.
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None and not threaded:
        return gi_monitor(target, _monitor_callback(callback, user_data))
    if loop is not None:
        def deliver(server, reason):
            _call_soon(loop, callback, server, reason, *user_data)
    else:
        def deliver(server, reason):
            callback(server, reason, *user_data)
    return _helper.run(gi_monitor, target, _monitor_callback(deliver, ()))


# Names of the pure-Python genserver's callbacks, and what GObject calls.
_MIGRANT_NAMES = {'init': 'do_init', 'handle_cast': 'do_handle_cast',
                  'handle_call': 'do_handle_call', 'handle_info': 'do_handle_info',
                  'terminate': 'do_terminate'}


def _defines(cls, vfunc):
    # Whether a Python class of cls's line overrides vfunc (the do_terminate
    # every Python server gets does not count: see __init_subclass__).
    return any(not getattr(klass.__dict__.get(vfunc), '_gen_default', False)
               for klass in cls.__mro__
               if vfunc in klass.__dict__ and not klass.__module__.startswith('gi.'))


def _refuse_migrant_names(cls):
    # PyGObject overrides a virtual method only under its do_ name: a
    # handle_cast would be a plain method nobody calls, and the server
    # would drop every cast without a word. Refused here, when the class
    # is made, rather than warned about: a warning printed once at import
    # is easy to miss, and such a class never works. A class that means
    # to have a method of that name defines the do_ handler too.
    for name, vfunc in _MIGRANT_NAMES.items():
        if callable(cls.__dict__.get(name)) and not _defines(cls, vfunc):
            raise TypeError(
                f"{cls.__qualname__} defines {name}(), which Gen.Server never calls: "
                f"GObject virtual methods are overridden as {vfunc}() (see "
                f"doc/migrating-from-python-genserver.md). Rename it to {vfunc}, or "
                f"define {vfunc} as well to keep a method named {name}.")


_HANDLERS = ('do_init', 'do_handle_cast', 'do_handle_call', 'do_handle_info',
             'do_handle_continue', 'do_terminate')


class Server(Gen.Server):
    """A Gen.Server with Pythonic helpers; subclass it as usual."""

    #: The GVariant type string casts must have (the cast-type property).
    cast_type = None
    #: The GVariant type string calls must have (the call-type property).
    call_type = None
    #: The type plain values returned by do_handle_call are packed as.
    reply_type = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith('gi.'):
            return  # the wrappers of C subclasses (Gen.Supervisor) and their overrides
        _refuse_migrant_names(cls)
        # Before GObjectMeta hooks the do_* methods up as vfuncs.
        for name in _HANDLERS:
            handler = cls.__dict__.get(name)
            if callable(handler) and not getattr(handler, '_gen_wrapped', False):
                setattr(cls, name, _wrap_handler(handler, name))
        # The nearest class made in C. (cls.__gtype__ is still its parent's:
        # cls registers after this.)
        parent = cls.__gtype__
        while parent.pytype is not None and not parent.pytype.__module__.startswith('gi.'):
            parent = parent.parent
        if not getattr(cls.do_init, '_gen_wrapped', False) and parent == Gen.Server.__gtype__:
            # A do_init for every Python server: its wrapper sets the
            # server's thread up (see _thread_state) while start() waits,
            # as a Python thread is set up when it starts, rather than in
            # front of the first message.
            def do_init(self, args):
                pass  # GenServer's own init does nothing

            cls.do_init = _wrap_handler(do_init, 'do_init')
            cls.do_init._gen_default = True
        if not getattr(cls.do_terminate, '_gen_wrapped', False):
            # Every Python server gets a do_terminate, the end of its run on
            # its thread (see _thread_state), chaining to a C subclass's.
            if parent == Gen.Server.__gtype__:
                def do_terminate(self, reason):
                    pass  # GenServer's own terminate does nothing
            else:
                def do_terminate(self, reason, chained=parent.pytype.do_terminate,
                                 parent=parent):
                    if reason is not None:
                        chained(self, reason)
                    elif _genserver is not None:
                        # PyGObject 3.42 cannot pass None for a GError.
                        _genserver.chain_terminate(self, parent)
                    # Else the C class's terminate is skipped on a normal
                    # stop: none of the library's (Gen.Statem keeps
                    # GenServer's, which does nothing) but Gen.Supervisor's.

            cls.do_terminate = _wrap_terminate(do_terminate)
            cls.do_terminate._gen_default = True

    def __init__(self, **kwargs: Any) -> None:
        cls = type(self)
        if '_gen_fast_cast' not in cls.__dict__:
            # Once per class, registered by now: handle_cast through
            # _genserver rather than PyGObject's vfunc closure (see there).
            fast = (_genserver is not None
                    and getattr(getattr(cls, 'do_handle_cast', None), '_gen_wrapped', False))
            if fast:
                _genserver.fast_handle_cast(cls.__gtype__, _cast_raised)
            cls._gen_fast_cast = fast
        for name in ('cast_type', 'call_type'):
            declared = getattr(type(self), name)
            if declared is not None and name not in kwargs and name.replace('_', '-') not in kwargs:
                kwargs[name] = declared
        super().__init__(**_keywords_in_ms(kwargs, _timeout_ms, 'idle_timeout'))

    def __repr__(self) -> str:
        status = 'running' if self.is_running() else 'stopped'
        module = type(self).__module__
        if module in ('gi.overrides.Gen', 'gi.repository.Gen'):
            module = 'Gen'
        return f"<{module}.{type(self).__qualname__} {status} at {id(self):#x}>"

    def __enter__(self) -> Server:
        """``with Counter() as counter:`` starts the server (unless it is
        running already) and stops it at the end of the block."""
        if not self.is_running():
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        # It may have stopped already: crashed, or stopped from a handler.
        if self.is_running():
            try:
                self.stop()
            except GLib.Error as error:
                if not error.matches(Gen.server_error_quark(), Gen.ServerError.NOT_RUNNING):
                    raise

    def start(self, args: Any = None) -> bool:
        """Starts the server, running do_init(args) on its thread; raises
        what do_init raised if it fails. ``args`` may be a plain value."""
        return self.start_with_timeout(args, None)

    def start_with_timeout(self, args: Any = None, timeout: Optional[float] = None) -> bool:
        """Starts the server as ``start`` does, waiting up to ``timeout``
        seconds for do_init (``None``: as long as it takes)."""
        variant = None if args is None else to_variant(args)
        timeout_ms = _timeout_ms(timeout)
        self._gen_run_ended = self._gen_run_told = False  # (see _run_over)
        try:
            if timeout_ms < 0:
                return Gen.Server.start(self, variant)
            return Gen.Server.start_with_timeout(self, variant, timeout_ms)
        except GLib.Error as error:
            _raise_error(self, _message_key(variant), error)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stops the server gracefully, waiting up to ``timeout`` seconds
        (``None``: as long as it takes)."""
        return Gen.Server.stop(self, _timeout_ms(timeout))

    def stop_with_reason(self, reason: Optional[GLib.Error] = None,
                         timeout: Optional[float] = None) -> bool:
        """Stops the server with ``reason`` (a GLib.Error, or None for a
        normal stop), waiting up to ``timeout`` seconds."""
        if reason is None:
            # The same normal stop; PyGObject 3.42 refuses None for a GError.
            return Gen.Server.stop(self, _timeout_ms(timeout))
        return Gen.Server.stop_with_reason(self, reason, _timeout_ms(timeout))

    def get_state(self, timeout: Optional[float] = DEFAULT_TIMEOUT) -> GLib.Variant:
        """sys:get_state: the state the class's ``do_dump_state`` gives, on
        the server's thread; waits up to ``timeout`` seconds for it."""
        return Gen.Server.get_state(self, _timeout_ms(timeout))

    def replace_state(self, func: Callable[[GLib.Variant], Optional[GLib.Variant]],
                      timeout: Optional[float] = DEFAULT_TIMEOUT) -> GLib.Variant:
        """sys:replace_state: ``func(state)`` runs on the server's thread
        and its result goes to ``do_load_state`` (None keeps the state);
        waits up to ``timeout`` seconds for the server to take the request.
        Returns the state now. An exception ``func`` raises keeps the
        state and is raised here, as Erlang's caller gets the callback's
        failure."""
        raised = []

        def guarded(state):
            try:
                return func(state)
            except BaseException as exception:  # raised again in the caller
                raised.append(exception)
                return None

        # A request the server took is waited for to its end, so `raised`
        # is complete when this returns.
        state = Gen.Server.replace_state(self, _timeout_ms(timeout), guarded)
        if raised:
            raise raised[0]
        return state

    def _message_types(self):
        # (cast type, call type, fast cast): all construct-only, read once.
        try:
            return self._gen_message_types
        except AttributeError:
            pass
        # A cast that may wait for room in the mailbox must not hold the GIL
        # the server needs to make room.
        block = getattr(getattr(Gen, 'MailboxPolicy', None), 'BLOCK', None)
        fast = (_genserver is not None
                and (block is None or getattr(self.props, 'mailbox_policy', None) != block))
        types = self._gen_message_types = (self.get_cast_type(), self.get_call_type(), fast)
        return types

    def cast(self, message: Any) -> bool:
        """Sends ``message`` (a plain value or GLib.Variant) to do_handle_cast."""
        return _cast_through_gi(self, message)

    def export_with_limits(self, connection, object_path: str, max_message_size: int,
                           max_pending_bytes: int, max_timeout: Optional[float]) -> bool:
        """Exports the server on D-Bus as ``export_full``, holding at most
        ``max_pending_bytes`` of messages from peers, and capping a peer's
        call at ``max_timeout`` seconds (``None``: no cap)."""
        return Gen.Server.export_with_limits(self, connection, object_path, max_message_size,
                                             max_pending_bytes,
                                             _timeout_ms(max_timeout, "max_timeout"))

    def cast_with_timeout(self, message: Any, timeout: Optional[float] = DEFAULT_TIMEOUT) -> bool:
        """Casts as ``cast`` does, waiting up to ``timeout`` seconds
        (``None``: as long as it takes) for room in a full mailbox whose
        policy is ``Gen.MailboxPolicy.BLOCK``. Raises GLib.Error
        (``MAILBOX_FULL`` when the time is up)."""
        return Gen.Server.cast_with_timeout(self, _message(message, self._message_types()[0]),
                                            _timeout_ms(timeout))

    def call(self, message: Any, timeout: Optional[float] = DEFAULT_TIMEOUT, *,
             unpack: bool = True) -> Any:
        """Sends ``message`` to do_handle_call and returns its reply,
        unpacked to Python values unless ``unpack=False``. ``timeout`` is in
        seconds (``None``: forever). Raises the exception do_handle_call
        raised, or GLib.Error for every other failure."""
        _, call_type, fast = self._message_types()
        timeout_ms = _timeout_ms(timeout)
        if fast and unpack:
            result = _genserver.call_value(self, call_type, message, timeout_ms,
                                           isinstance(message, GLib.Variant))
            if result is not NotImplemented:
                return _call_result(self, result)
        variant = _message(message, call_type)
        try:
            reply = Gen.Server.call(self, variant, timeout_ms)
        except GLib.Error as error:
            _raise_error(self, _message_key(variant), error)
        return reply.unpack() if unpack else reply

    def call_async(self, message: Any,
                   callback: Callable[[Any, Optional[BaseException]], None],
                   timeout: Optional[float] = DEFAULT_TIMEOUT,
                   cancellable: Optional[Gio.Cancellable] = None, *,
                   unpack: bool = True) -> None:
        """Calls without blocking. ``callback(reply, error)`` runs on this
        thread's default GLib.MainContext: ``error`` is None on success, or
        what ``call`` would raise (and ``reply`` None)."""
        variant = _message(message, self._message_types()[1])

        def done(server, result, *_user_data):
            try:
                reply = Gen.Server.call_finish(server, result)
            except GLib.Error as error:
                callback(None, _take_exception(server, _message_key(variant), error))
                return
            callback(reply.unpack() if unpack else reply, None)

        Gen.Server.call_async(self, variant, _timeout_ms(timeout), cancellable, done)

    async def acall(self, message: Any, timeout: Optional[float] = DEFAULT_TIMEOUT, *,
                    unpack: bool = True) -> Any:
        """``call`` for asyncio: awaits the reply without blocking the event
        loop. No thread per call: the call is made with ``call_async`` from
        one helper thread, which hands the reply to the loop. Cancelling the
        awaiting task cancels the call: still queued, it never runs."""
        variant = _message(message, self._message_types()[1])
        error, reply = await _helper.call(Gen.Server.call_async, Gen.Server.call_finish,
                                          self, variant, _timeout_ms(timeout))
        if error is not None:
            _raise_error(self, _message_key(variant), error)
        return reply.unpack() if unpack else reply

    def monitor(self, callback: Callable[..., None], *user_data: Any,
                threaded: bool = False) -> int:
        """Calls ``callback(server, reason, *user_data)`` once, when the
        server's run ends; ``reason`` is None for a normal stop, else a
        GLib.Error (whose ``__cause__`` is the exception that crashed a
        Python server). Returns
        the id for ``demonitor``. The callback runs:

        - in an asyncio program (called from a running event loop), on that
          loop;
        - with ``threaded=True``, on the override's helper thread, as
          concurrent.futures runs done callbacks: no loop of any kind needed;
        - otherwise on this thread's default GLib.MainContext, as in C.
        """
        return _monitor(Gen.Server.monitor, self, callback, user_data, threaded)

    def join(self, timeout: Optional[float] = None) -> Any:
        """Waits up to ``timeout`` seconds (``None``: as long as it takes)
        for the server's run to end, with no GLib main loop, and returns its
        reason: None for a normal stop, else a GLib.Error (whose
        ``__cause__`` is the exception that crashed a Python server). Raises
        TimeoutError when the time is up.

        A server that is not running returns at once: with the reason its
        last run ended with for a Python server, None otherwise."""
        if self._run_over():
            return self._run_reason(None)
        ended = threading.Event()
        reasons = []

        def done(server, reason):
            reasons.append(reason)
            self._gen_run_told = True  # (see _run_over)
            ended.set()

        monitor_id = self.monitor(done, threaded=True)
        if not ended.wait(timeout):
            if self.demonitor(monitor_id):
                raise TimeoutError(f"{self!r} still running after {timeout} s")
            # Too late to remove: the notice is on its way to the helper
            # thread (a run that ended as the monitor was set up).
            ended.wait()
        return self._run_reason(reasons[0])

    async def ajoin(self) -> Any:
        """``join`` for asyncio: ``await server.ajoin()``; bound it with
        ``asyncio.wait_for``. Cancelling the task removes the monitor."""
        if self._run_over():
            return self._run_reason(None)
        loop = asyncio.get_running_loop()
        ended = loop.create_future()

        def done(server, reason):
            self._gen_run_told = True  # (see _run_over)
            if not ended.done():
                ended.set_result(reason)

        monitor_id = self.monitor(done)
        try:
            reason = await ended
        except asyncio.CancelledError:
            self.demonitor(monitor_id)
            raise
        return self._run_reason(reason)

    def _run_over(self):
        # Stopped, or stopping once a join saw the run's monitors told (its
        # own monitor, or the status 'stopped'): the core tells the monitors
        # before the status says stopped, and a join(0) after a join would
        # otherwise time out in between. Not as soon as do_terminate is
        # done: the run's links and monitors are told after it (and after
        # its run-end functions), and a join must not return before the
        # servers linked to this one got their exit signal.
        status = self.get_run_status()
        if status == 'stopped':
            self._gen_run_told = True
            return True
        return status == 'stopping' and getattr(self, '_gen_run_told', False)

    def _run_reason(self, reason):
        # None from a stopped server, or NOT_RUNNING: the run was over (or
        # never began) before the monitor was in place; a Python server
        # knows how its last run ended.
        if reason is None or (isinstance(reason, GLib.Error)
                              and reason.domain == _SERVER_ERROR_DOMAIN
                              and reason.code == Gen.ServerError.NOT_RUNNING):
            return getattr(self, '_gen_last_reason', None)
        return reason

    def send_info(self, message: Any) -> bool:
        """Sends ``message`` (a plain value or GLib.Variant) to do_handle_info."""
        return Gen.Server.send_info(self, to_variant(message))

    def send_after(self, message: Any, delay: float) -> int:
        """Sends ``message`` to do_handle_info after ``delay`` seconds;
        returns the timer id for cancel_timer()."""
        if delay is None:
            raise ValueError("delay must be >= 0 seconds, not None")
        return Gen.Server.send_after(self, to_variant(message), _timeout_ms(delay, "delay"))

    def continue_(self, message: Any) -> None:
        """Schedules do_handle_continue(message) right after the current
        handler; ``message`` may be a plain value."""
        return Gen.Server.continue_(self, to_variant(message))

    def set_idle_timeout(self, timeout: Optional[float]) -> None:
        """Sends the idle-timeout message to do_handle_info when no message
        came for ``timeout`` seconds (``None``: never)."""
        Gen.Server.set_idle_timeout(self, _timeout_ms(timeout, "idle timeout"))

    def get_idle_timeout(self) -> Optional[float]:
        """The idle timeout in seconds, or None if there is none."""
        return _seconds(Gen.Server.get_idle_timeout(self))


Server = override(Server)
__all__.append('Server')


def _cast_through_gi(server, message):
    return Gen.Server.cast(server, _message(message, server._message_types()[0]))


# Casts, the messages sent most, are packed and sent in C when the module is
# there (see _genserver.c), which hands _cast_through_gi what it does not
# pack: Server.cast is then a method written in C, with the Python one's
# name, doc, signature and type hints.
if _genserver is not None:
    Server.cast = functools.update_wrapper(_genserver.cast_method(_cast_through_gi),
                                           Server.cast)


class Reply(Gen.Reply):
    """The handle of a deferred call (Gen.Server.take_reply())."""

    def return_value(self, value: Any) -> None:
        """Answers the call with ``value``, a plain value or GLib.Variant."""
        return Gen.Reply.return_value(self, to_variant(value))


Reply = override(Reply)
__all__.append('Reply')


class Registry(Gen.Registry):
    """Gen.Registry with plain values and seconds, as Gen.Server."""

    def cast(self, name: str, message: Any) -> bool:
        """Casts ``message`` to the server registered as ``name``."""
        server = self.lookup(name)
        return Gen.Registry.cast(self, name, _message(
            message, server.get_cast_type() if server is not None else None))

    def call(self, name: str, message: Any, timeout: Optional[float] = DEFAULT_TIMEOUT, *,
             unpack: bool = True) -> Any:
        """Calls the server registered as ``name``; see Server.call."""
        server = self.lookup(name)
        variant = _message(message, server.get_call_type() if server is not None else None)
        try:
            reply = Gen.Registry.call(self, name, variant, _timeout_ms(timeout))
        except GLib.Error as error:
            _raise_error(server, _message_key(variant), error)
        return reply.unpack() if unpack else reply

    def send_info(self, name: str, message: Any) -> bool:
        """Sends ``message`` to do_handle_info of the server registered as ``name``."""
        return Gen.Registry.send_info(self, name, to_variant(message))

    def cast_matching(self, pattern: str, message: Any) -> int:
        """Casts ``message`` to every server whose name matches ``pattern``
        (``*`` and ``?``); returns how many it was queued to."""
        return Gen.Registry.cast_matching(self, pattern, _group_message(
            message, [self.lookup(name) for name in self.dup_names()], 'cast'))

    def call_matching(self, pattern: str, message: Any,
                      timeout: Optional[float] = DEFAULT_TIMEOUT) -> list:
        """Calls every server whose name matches ``pattern`` at once, with
        one deadline of ``timeout`` seconds; returns their Gen.Requests,
        answered (``request.wait(0)`` gives each reply, or raises)."""
        return Gen.Registry.call_matching(self, pattern, _group_message(
            message, [self.lookup(name) for name in self.dup_names()], 'call'),
            _timeout_ms(timeout))


Registry = override(Registry)
__all__.append('Registry')


def _group_message(message, servers, kind):
    # Packed as the servers' declared type when they agree on one, else by
    # inference; C refuses it for the servers that declared another.
    declared = {getattr(server, f'get_{kind}_type')() for server in servers if server is not None}
    return _message(message, declared.pop() if len(declared) == 1 else None)


class Group(Gen.Group):
    """Gen.Group with plain values and seconds."""

    def cast(self, group: str, message: Any) -> int:
        """Casts ``message`` to every member of ``group``; returns how many
        it was queued to."""
        return Gen.Group.cast(self, group, _group_message(
            message, self.get_members(group), 'cast'))

    def call(self, group: str, message: Any,
             timeout: Optional[float] = DEFAULT_TIMEOUT) -> list:
        """Calls every member of ``group`` at once, with one deadline of
        ``timeout`` seconds; returns their Gen.Requests, answered, in the
        order they joined (``request.wait(0)`` gives each reply, or raises)."""
        return Gen.Group.call(self, group, _group_message(
            message, self.get_members(group), 'call'), _timeout_ms(timeout))


Group = override(Group)
__all__.append('Group')


class Supervisor(Gen.Supervisor):
    """Gen.Supervisor with its period in seconds."""

    @classmethod
    def new(cls, strategy: Gen.SupervisorStrategy, intensity: int,
            period: float) -> Supervisor:
        """A supervisor allowing ``intensity`` restarts in ``period`` seconds."""
        return Gen.Supervisor.new(strategy, intensity, _timeout_ms(period, "period"))

    def get_period(self) -> float:
        """The restart period, in seconds."""
        return Gen.Supervisor.get_period(self) / 1000


Supervisor = override(Supervisor)
__all__.append('Supervisor')


class ChildSpec(Gen.ChildSpec):
    """Gen.ChildSpec with its shutdown timeout in seconds."""

    def set_shutdown_timeout(self, timeout: Optional[float]) -> None:
        """How long the supervisor waits for the child to stop, in seconds
        (``None``: as long as it takes)."""
        Gen.ChildSpec.set_shutdown_timeout(self, _timeout_ms(timeout, "shutdown timeout"))

    def get_shutdown_timeout(self) -> Optional[float]:
        """The shutdown timeout in seconds, or None for no limit."""
        return _seconds(Gen.ChildSpec.get_shutdown_timeout(self))


ChildSpec = override(ChildSpec)
__all__.append('ChildSpec')


# --- State machines, links and requests -----------------------------------
#
# Kept apart from the Server helpers above: Gen.Statem, Gen.Request and
# Gen.RequestSet, with the same conventions (plain values, seconds).

_STATEM_HANDLERS = ('do_init_state', 'do_handle_event')


def _wrap_statem_handler(handler):
    @functools.wraps(handler)
    def wrapper(self, *args):
        try:
            state = handler(self, *args)
            if state is not None and not isinstance(state, GLib.Variant):
                state = to_variant(state)
            return state
        except GLib.Error:
            raise
        except Exception as exc:
            # As for Gen.Server's handlers: a call's or a start's Python
            # caller gets the exception itself; any other event's is a
            # crash, logged with its traceback.
            text = _exception_text(exc)
            qualname = type(self).__qualname__
            if handler.__name__ == 'do_init_state':
                key = args[0]
            elif args[0] == Gen.StatemEventType.CALL:
                key = args[1]
            else:
                key = None
            if key is None and handler.__name__ != 'do_init_state':
                _log_exception(self, logging.ERROR,
                               f"{qualname} crashed in {handler.__name__}: {text}", exc)
                self._gen_crash = (text, exc)
            else:
                _log_exception(self, logging.DEBUG, f"{qualname}.{handler.__name__} raised {text}",
                               exc)
                _leave_exception(self, key, exc, text)
            raise GLib.Error.new_literal(Gen.server_error_quark(), text,
                                         Gen.ServerError.FAILED) from exc

    wrapper._gen_wrapped = True
    return wrapper


def _content(content):
    return None if content is None else to_variant(content)


def _state_function_handler(self, event_type, content, state):
    # The state_functions callback mode: state 'open' goes to state_open().
    name = state.unpack()
    handler = getattr(self, 'state_' + name, None) if isinstance(name, str) else None
    if not callable(handler):
        raise GLib.Error.new_literal(
            Gen.server_error_quark(),
            f"{type(self).__name__} has no state function for the state {name!r}",
            Gen.ServerError.FAILED)
    return handler(event_type, content)


def _deadline_us(deadline):
    # time.monotonic() and g_get_monotonic_time() read the same clock.
    return int(deadline * 1_000_000)


class Statem(Gen.Statem):
    """A Gen.Statem with Pythonic helpers; subclass it as usual.

    ``do_init_state(args)`` and ``do_handle_event(event_type, content,
    state)`` may return plain values as states (a ``str`` becomes an ``s``
    variant); their exceptions reach C as ``GLib.Error`` as for
    ``Gen.Server``. The class attribute ``state_enter = True`` turns state
    enter calls on. Timeouts are in seconds; ``None`` cancels one.

    A class without ``do_handle_event`` that defines ``state_<name>(self,
    event_type, content)`` methods uses the ``state_functions`` callback
    mode: each event goes to the method of the current state (a ``str``
    state), enter calls included; a state without one is an error. A state
    cannot be named ``enter`` this way (``state_enter`` is the attribute
    above)."""

    #: Whether do_handle_event gets Gen.StatemEventType.ENTER events.
    state_enter = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if 'do_handle_event' not in cls.__dict__ and any(
                name.startswith('state_') and callable(value) for name, value in cls.__dict__.items()):
            cls.do_handle_event = _state_function_handler
        for name in _STATEM_HANDLERS:
            handler = cls.__dict__.get(name)
            if callable(handler) and not getattr(handler, '_gen_wrapped', False):
                setattr(cls, name, _wrap_statem_handler(handler))

    def __init__(self, **kwargs):
        declared = type(self).state_enter
        if declared is not None and 'state_enter' not in kwargs and 'state-enter' not in kwargs:
            kwargs['state_enter'] = declared
        super().__init__(**kwargs)

    def reply(self, value, reply=None):
        """Answers the current call (or ``reply``, a taken Gen.Reply) with
        ``value``, a plain value or GLib.Variant, once the event is done."""
        return Gen.Statem.reply(self, reply, to_variant(value))

    def set_state_timeout(self, timeout, content=None):
        """Arms (``timeout`` seconds) or cancels (``None``) the state timeout."""
        ms = -1 if timeout is None else _timeout_ms(timeout)
        return Gen.Statem.set_state_timeout(self, ms, _content(content))

    def set_timeout(self, name, timeout, content=None):
        """Arms or cancels the generic timeout ``name``."""
        ms = -1 if timeout is None else _timeout_ms(timeout)
        return Gen.Statem.set_timeout(self, name, ms, _content(content))

    def set_event_timeout(self, timeout, content=None):
        """Arms or cancels the event timeout."""
        ms = -1 if timeout is None else _timeout_ms(timeout)
        return Gen.Statem.set_event_timeout(self, ms, _content(content))

    def next_event(self, event_type, content, *, reply=None, timeout_name=None):
        """Inserts an event of any type but ENTER, with a plain content. A
        CALL is answered through ``reply`` (a taken Gen.Reply), or by
        default through the current call's caller; a TIMEOUT needs its
        ``timeout_name``."""
        return Gen.Statem.next_event_full(self, event_type, to_variant(content), reply,
                                          timeout_name)

    def set_state_timeout_at(self, deadline, content=None):
        """Arms the state timeout at ``deadline``, in seconds on the clock
        of ``time.monotonic()``."""
        return Gen.Statem.set_state_timeout_at(self, _deadline_us(deadline), _content(content))

    def set_timeout_at(self, name, deadline, content=None):
        """Arms the generic timeout ``name`` at ``deadline`` (``time.monotonic()``)."""
        return Gen.Statem.set_timeout_at(self, name, _deadline_us(deadline), _content(content))

    def set_event_timeout_at(self, deadline, content=None):
        """Arms the event timeout at ``deadline`` (``time.monotonic()``)."""
        return Gen.Statem.set_event_timeout_at(self, _deadline_us(deadline), _content(content))

    def update_state_timeout(self, content=None):
        """New content for the running state timeout (else a zero one)."""
        return Gen.Statem.update_state_timeout(self, _content(content))

    def update_timeout(self, name, content=None):
        """New content for the running generic timeout ``name``."""
        return Gen.Statem.update_timeout(self, name, _content(content))

    def update_event_timeout(self, content=None):
        """New content for the running event timeout."""
        return Gen.Statem.update_event_timeout(self, _content(content))

    def stop_and_reply(self, reason=None):
        """The stop action: once this event's replies are sent, the machine
        stops with ``reason`` (a GLib.Error, or None for a normal stop)."""
        if reason is None:
            # PyGObject 3.42 refuses None for a GError argument.
            if _genserver is not None:
                return _genserver.statem_stop(self)
            # Without the C module: a normal stop asked from inside a
            # handler takes effect after this event too, its replies sent;
            # only the rest of the event's actions still run, and it is not
            # dropped if the handler then raises.
            Gen.Server.stop(self, 0)
            return None
        return Gen.Statem.stop_and_reply(self, reason)

    def dup_state(self, *, unpack=True):
        """The current state, unpacked unless ``unpack=False``."""
        state = Gen.Statem.dup_state(self)
        return state.unpack() if unpack and state is not None else state


Statem = override(Statem)
__all__.append('Statem')


class Request(Gen.Request):
    """Gen.Request with seconds and unpacked replies."""

    def wait(self, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """Waits up to ``timeout`` seconds for the reply; a timeout leaves
        the request pending."""
        reply = Gen.Request.wait(self, _timeout_ms(timeout))
        return reply.unpack() if unpack else reply

    def receive(self, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """Waits as ``wait``, but a timeout abandons the request."""
        reply = Gen.Request.receive(self, _timeout_ms(timeout))
        return reply.unpack() if unpack else reply

    def wait_async(self, callback, timeout=DEFAULT_TIMEOUT, cancellable=None, *,
                   unpack=True):
        """Waits as ``wait`` does, without blocking: ``callback(reply,
        error)`` runs on this thread's default GLib.MainContext, ``error``
        None on success, or what ``wait`` would raise (and ``reply`` None).
        A timeout or the cancellable ends only the wait."""
        def done(request, result, *_user_data):
            try:
                reply = Gen.Request.wait_finish(request, result)
            except GLib.Error as error:
                callback(None, error)
                return
            callback(reply.unpack() if unpack else reply, None)

        Gen.Request.wait_async(self, _timeout_ms(timeout), cancellable, done)

    async def areply(self, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """``wait`` for asyncio: ``await asyncio.gather(*(r.areply() for r
        in requests))``. No thread per wait: Gen.Request.wait_async runs on
        the override's helper thread, which hands the reply to the loop. A
        timeout raises GLib.Error TIMEOUT and leaves the request pending, as
        ``wait`` does; so does cancelling the awaiting task, which ends only
        the wait (drop the request to abandon it)."""
        error, reply = await _helper.call(Gen.Request.wait_async, Gen.Request.wait_finish,
                                          self, _timeout_ms(timeout))
        if error is not None:
            raise error
        return reply.unpack() if unpack else reply


Request = override(Request)
__all__.append('Request')


class RequestSet(Gen.RequestSet):
    """Gen.RequestSet with plain values and seconds."""

    def send(self, server, message, label=None):
        """Sends ``message`` (packed as the server's call-type) to ``server``."""
        return Gen.RequestSet.send(self, server, _message(message, server.get_call_type()), label)

    def wait_any(self, timeout=DEFAULT_TIMEOUT):
        """The first answered request, taken out of the set."""
        return Gen.RequestSet.wait_any(self, _timeout_ms(timeout))

    def wait_all(self, timeout=DEFAULT_TIMEOUT):
        """All the requests, in the order sent, once all are answered."""
        return Gen.RequestSet.wait_all(self, _timeout_ms(timeout))

    def wait(self, timeout=DEFAULT_TIMEOUT, delete=True):
        """The first answered request (Erlang's ``wait_response/3``); a
        timeout leaves every request pending. ``delete=False`` leaves the
        request in the set, which does not give it again."""
        return Gen.RequestSet.wait(self, _timeout_ms(timeout), delete)

    def receive(self, timeout=DEFAULT_TIMEOUT, delete=True):
        """As ``wait``, but a timeout abandons every request left
        (Erlang's ``receive_response/3``)."""
        return Gen.RequestSet.receive(self, _timeout_ms(timeout), delete)

    def check(self, delete=True):
        """An answered request without blocking, or None
        (``check_response/3``)."""
        return Gen.RequestSet.check(self, delete)

    def requests(self):
        """The requests the set holds, in the order sent
        (``reqids_to_list/1``)."""
        return list(Gen.RequestSet.get_requests(self))


RequestSet = override(RequestSet)
__all__.append('RequestSet')


def _send_request(self, message):
    """Sends a call without waiting (plain values as for ``call``); returns
    a Gen.Request."""
    return Gen.Server.send_request(self, _message(message, self.get_call_type()))


Server.send_request = _send_request

# D-Bus: Gen.Remote ---------------------------------------------------------
# Kept in a block of its own. A remote server feels like a local one: plain
# values packed with the types the server declared, seconds, asyncio.


class Remote(Gen.Remote):
    """A server of another process, reached over D-Bus; see Gen.Server.

    Make one with ``Gen.Remote.new_sync(connection, bus_name, object_path)``
    (``bus_name`` None peer-to-peer)."""

    @staticmethod
    def new_sync(connection: Gio.DBusConnection, bus_name: Optional[str], object_path: str,
                 cancellable: Optional[Gio.Cancellable] = None) -> Remote:
        """Reaches the server exported at ``object_path`` by the process
        that owns ``bus_name`` (None: the peer of a peer-to-peer
        ``connection``), as in C.

        The remote listens for the server's stop, and for the bus name
        losing its owner, on a thread of the override that always runs a
        GLib main loop: its monitors are told with no main loop of yours
        (see ``monitor``). A peer-to-peer connection's end is told by
        ``connection`` itself, on the GLib context it was made in, which
        must then be iterated."""
        return _listener.run(Gen.Remote.new_sync, connection, bus_name, object_path,
                             cancellable)

    def monitor(self, callback: Callable[..., None], *user_data: Any,
                threaded: bool = False) -> int:
        """Calls ``callback(remote, reason, *user_data)`` once, when the
        remote server stops (``reason`` None for a normal stop, else a
        GLib.Error) or cannot be reached any more (``NO_CONNECTION``).
        Returns the id for ``demonitor``. As for ``Gen.Server.monitor``,
        the callback runs on the asyncio loop it was called from, on the
        override's helper thread with ``threaded=True``, and otherwise on
        this thread's default GLib.MainContext, as in C."""
        return _monitor(Gen.Remote.monitor, self, callback, user_data, threaded)

    def cast(self, message):
        """Casts ``message`` (a plain value or GLib.Variant) to the remote server."""
        return Gen.Remote.cast(self, _message(message, self.get_cast_type()))

    def cast_checked(self, message, timeout=DEFAULT_TIMEOUT):
        """Casts ``message`` and waits up to ``timeout`` seconds (``None``:
        as long as it takes) for the exporting process to say it was
        queued. Raises GLib.Error (``MAILBOX_FULL`` for a full mailbox)."""
        return Gen.Remote.cast_checked(self, _message(message, self.get_cast_type()),
                                       _timeout_ms(timeout))

    def call(self, message, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """Calls the remote server and returns its reply, unpacked unless
        ``unpack=False``. ``timeout`` is in seconds (``None``: forever) and
        travels with the request. Raises GLib.Error on failure, with the
        server's domain and code."""
        reply = Gen.Remote.call(self, _message(message, self.get_call_type()),
                                _timeout_ms(timeout))
        return reply.unpack() if unpack else reply

    def call_async(self, message, callback, timeout=DEFAULT_TIMEOUT,
                   cancellable=None, *, unpack=True):
        """Calls without blocking; ``callback(reply, error)`` runs on this
        thread's default GLib.MainContext, as for Server.call_async."""
        def done(remote, result, *_user_data):
            try:
                reply = Gen.Remote.call_finish(remote, result)
            except GLib.Error as error:
                callback(None, error)
                return
            callback(reply.unpack() if unpack else reply, None)

        Gen.Remote.call_async(self, _message(message, self.get_call_type()),
                              _timeout_ms(timeout), cancellable, done)

    async def acall(self, message, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """``call`` for asyncio, as Server.acall: no thread per call, and
        cancelling the task cancels the call."""
        error, reply = await _helper.call(Gen.Remote.call_async, Gen.Remote.call_finish, self,
                                          _message(message, self.get_call_type()),
                                          _timeout_ms(timeout))
        if error is not None:
            raise error
        return reply.unpack() if unpack else reply


Remote = override(Remote)
__all__.append('Remote')


# Nodes ---------------------------------------------------------------------


class Node(Gen.Node):
    """Gen.Node, whose ``connect`` and ``disconnect`` link nodes, and still
    connect and disconnect GObject signal handlers when called as GObject's
    are. Its durations are in seconds: ``get_tick_time``/``set_tick_time``,
    ``get_handshake_timeout``/``set_handshake_timeout`` and the
    constructor's ``tick_time=`` and ``handshake_timeout=``."""

    get_tick_time, set_tick_time = _seconds_property('tick_time')
    get_handshake_timeout, set_handshake_timeout = _seconds_property('handshake_timeout')

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_keywords_in_ms(kwargs, _duration_ms,
                                           'tick_time', 'handshake_timeout'))

    def connect(self, address: str, cancellable: Optional[Gio.Cancellable] = None,
                *user_data: Any) -> Any:
        """``node.connect(address, cancellable=None)`` connects to the node
        listening at ``address`` and returns its name (gen_node_connect).

        Called as GObject's ``connect`` is, with a callable second argument,
        it connects that callback to the signal named first, as
        ``GObject.Object.connect`` does, and returns the handler id::

            node.connect('node-down', lambda node, peer, reason: ...)
        """
        if callable(cancellable):
            return GObject.Object.connect(self, address, cancellable, *user_data)
        if user_data:
            raise TypeError("Gen.Node.connect(address, cancellable=None) takes no user data; "
                            "to connect a signal, pass a callable after its name")
        return Gen.Node.connect(self, address, cancellable)

    def disconnect(self, peer: Any) -> None:
        """``node.disconnect(peer)`` drops the link to the node named
        ``peer`` (gen_node_disconnect); given a handler id (an int, as
        ``connect`` returns for a signal), it disconnects that handler, as
        ``GObject.Object.disconnect`` does."""
        if isinstance(peer, int):
            return GObject.Object.disconnect(self, peer)
        return Gen.Node.disconnect(self, peer)


Node = override(Node)
__all__.append('Node')


class DBusListener(Gen.DBusListener):
    """Gen.DBusListener with its handshake timeout in seconds:
    ``get_handshake_timeout``/``set_handshake_timeout`` and the
    constructor's ``handshake_timeout=``."""

    get_handshake_timeout, set_handshake_timeout = _seconds_property('handshake_timeout')

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_keywords_in_ms(kwargs, _duration_ms, 'handshake_timeout'))


DBusListener = override(DBusListener)
__all__.append('DBusListener')
