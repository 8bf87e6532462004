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
  (``Gen.ServerError.FAILED``, message ``"TypeName: message"``), so a caller
  of ``call`` gets it raised, and the server goes on (for ``handle_call``)
  or crashes as in C (the other handlers).
- ``call_async(value, callback)`` and ``await acall(value)``.
- ``send_info``, ``send_after`` (delay in seconds), ``continue_`` and
  ``Gen.Reply.return_value`` take plain values too.
- Class attributes ``cast_type``, ``call_type`` declare message types (the
  construct properties), ``reply_type`` the type that plain values returned
  by ``do_handle_call`` are wrapped in.
- ``stop_with_reason(reason, timeout=None)``, and ``Gen.Registry``'s
  ``call``/``cast``/``send_info`` by name take plain values and seconds too.
"""

import asyncio
import functools
import logging

from gi.repository import GLib

from ..module import get_introspection_module
from ..overrides import override

Gen = get_introspection_module('Gen')

__all__ = []

#: The default call timeout, in seconds: GEN_SERVER_DEFAULT_TIMEOUT (5000 ms).
DEFAULT_TIMEOUT = Gen.SERVER_DEFAULT_TIMEOUT / 1000
__all__.append('DEFAULT_TIMEOUT')

_logger = logging.getLogger(__name__)

# The largest timeout C takes (a gint of milliseconds); longer is "forever"
# in practice, and C would otherwise see an overflowed negative number.
_MAX_TIMEOUT_MS = 2**31 - 1


def _timeout_ms(timeout):
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"timeout must be None or >= 0 seconds, not {timeout!r}")
    return min(_MAX_TIMEOUT_MS, int(round(timeout * 1000)))


def to_variant(value, type_string=None):
    """Wraps a Python value in a GLib.Variant.

    A GLib.Variant is returned as it is. With ``type_string``, the value is
    packed as that type. Without one, the type follows the value: bool → b,
    int → x, float → d, str → s, bytes → ay, tuple → a tuple of the inferred
    types, dict with str keys → a{sv}, list → av. Anything else raises
    TypeError.
    """
    if isinstance(value, GLib.Variant):
        return value
    if type_string is not None:
        return GLib.Variant(type_string, value)
    if isinstance(value, bool):
        return GLib.Variant('b', value)
    if isinstance(value, int):
        return GLib.Variant('x', value)
    if isinstance(value, float):
        return GLib.Variant('d', value)
    if isinstance(value, str):
        return GLib.Variant('s', value)
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


def _message(value, type_string):
    # A value that does not fit the declared type is still sent, with the
    # type it has: C then refuses it with INVALID_MESSAGE naming both types,
    # the one guard every language shares.
    if type_string is not None and not isinstance(value, GLib.Variant):
        try:
            return GLib.Variant(type_string, value)
        except (TypeError, ValueError, OverflowError):
            pass
    return to_variant(value)


def _server_error(exc):
    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return GLib.Error.new_literal(Gen.server_error_quark(), message,
                                  Gen.ServerError.FAILED)


def _wrap_handler(handler, is_call):
    @functools.wraps(handler)
    def wrapper(self, *args):
        try:
            result = handler(self, *args)
            if is_call and result is not None and not isinstance(result, GLib.Variant):
                result = to_variant(result, type(self).reply_type)
            return result
        except GLib.Error:
            raise
        except Exception as exc:
            # PyGObject only prints other exceptions and hands C no error.
            _logger.debug("%s.%s raised", type(self).__name__, handler.__name__,
                          exc_info=True)
            raise _server_error(exc) from exc

    wrapper._gen_wrapped = True
    return wrapper


_HANDLERS = ('do_init', 'do_handle_cast', 'do_handle_call', 'do_handle_info',
             'do_handle_continue')


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
        # Before GObjectMeta hooks the do_* methods up as vfuncs.
        for name in _HANDLERS:
            handler = cls.__dict__.get(name)
            if callable(handler) and not getattr(handler, '_gen_wrapped', False):
                setattr(cls, name, _wrap_handler(handler, name == 'do_handle_call'))

    def __init__(self, **kwargs):
        for name in ('cast_type', 'call_type'):
            declared = getattr(type(self), name)
            if declared is not None and name not in kwargs and name.replace('_', '-') not in kwargs:
                kwargs[name] = declared
        super().__init__(**kwargs)

    def start(self, args=None):
        """Starts the server, running do_init(args) on its thread; raises
        GLib.Error if init fails. ``args`` may be a plain value."""
        return Gen.Server.start(self, None if args is None else to_variant(args))

    def stop(self, timeout=None):
        """Stops the server gracefully, waiting up to ``timeout`` seconds
        (``None``: as long as it takes)."""
        return Gen.Server.stop(self, _timeout_ms(timeout))

    def stop_with_reason(self, reason=None, timeout=None):
        """Stops the server with ``reason`` (a GLib.Error, or None for a
        normal stop), waiting up to ``timeout`` seconds."""
        return Gen.Server.stop_with_reason(self, reason, _timeout_ms(timeout))

    def cast(self, message):
        """Sends ``message`` (a plain value or GLib.Variant) to do_handle_cast."""
        return Gen.Server.cast(self, _message(message, self.get_cast_type()))

    def call(self, message, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """Sends ``message`` to do_handle_call and returns its reply,
        unpacked to Python values unless ``unpack=False``. ``timeout`` is in
        seconds (``None``: forever). Raises GLib.Error on failure."""
        reply = Gen.Server.call(self, _message(message, self.get_call_type()),
                                _timeout_ms(timeout))
        return reply.unpack() if unpack else reply

    def call_async(self, message, callback, timeout=DEFAULT_TIMEOUT,
                   cancellable=None, *, unpack=True):
        """Calls without blocking. ``callback(reply, error)`` runs on this
        thread's default GLib.MainContext: ``error`` is None on success, or
        the GLib.Error (and ``reply`` None)."""
        def done(server, result, *_user_data):
            try:
                reply = Gen.Server.call_finish(server, result)
            except GLib.Error as error:
                callback(None, error)
                return
            callback(reply.unpack() if unpack else reply, None)

        Gen.Server.call_async(self, _message(message, self.get_call_type()),
                              _timeout_ms(timeout), cancellable, done)

    def send_info(self, message):
        """Sends ``message`` (a plain value or GLib.Variant) to do_handle_info."""
        return Gen.Server.send_info(self, to_variant(message))

    def send_after(self, message, delay):
        """Sends ``message`` to do_handle_info after ``delay`` seconds;
        returns the timer id for cancel_timer()."""
        if delay < 0:
            raise ValueError(f"delay must be >= 0 seconds, not {delay!r}")
        return Gen.Server.send_after(self, to_variant(message),
                                     min(_MAX_TIMEOUT_MS, int(round(delay * 1000))))

    def continue_(self, message):
        """Schedules do_handle_continue(message) right after the current
        handler; ``message`` may be a plain value."""
        return Gen.Server.continue_(self, to_variant(message))

    async def acall(self, message, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """``call`` for asyncio: awaits the reply without blocking the event
        loop (the blocking C call runs in the loop's default executor, with
        the GIL released while it waits)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, functools.partial(self.call, message, timeout, unpack=unpack))


Server = override(Server)
__all__.append('Server')


class Reply(Gen.Reply):
    """The handle of a deferred call (Gen.Server.take_reply())."""

    def return_value(self, value):
        """Answers the call with ``value``, a plain value or GLib.Variant."""
        return Gen.Reply.return_value(self, to_variant(value))


Reply = override(Reply)
__all__.append('Reply')


class Registry(Gen.Registry):
    """Gen.Registry with plain values and seconds, as Gen.Server."""

    def cast(self, name, message):
        """Casts ``message`` to the server registered as ``name``."""
        server = self.lookup(name)
        return Gen.Registry.cast(self, name, _message(
            message, server.get_cast_type() if server is not None else None))

    def call(self, name, message, timeout=DEFAULT_TIMEOUT, *, unpack=True):
        """Calls the server registered as ``name``; see Server.call."""
        server = self.lookup(name)
        reply = Gen.Registry.call(self, name, _message(
            message, server.get_call_type() if server is not None else None),
            _timeout_ms(timeout))
        return reply.unpack() if unpack else reply

    def send_info(self, name, message):
        """Sends ``message`` to do_handle_info of the server registered as ``name``."""
        return Gen.Registry.send_info(self, name, to_variant(message))


Registry = override(Registry)
__all__.append('Registry')


# D-Bus: Gen.Remote ---------------------------------------------------------
# Kept in a block of its own. A remote server feels like a local one: plain
# values packed with the types the server declared, seconds, asyncio.


class Remote(Gen.Remote):
    """A server of another process, reached over D-Bus; see Gen.Server.

    Make one with ``Gen.Remote.new_sync(connection, bus_name, object_path,
    None)`` (``bus_name`` None peer-to-peer)."""

    def cast(self, message):
        """Casts ``message`` (a plain value or GLib.Variant) to the remote server."""
        return Gen.Remote.cast(self, _message(message, self.get_cast_type()))

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
        """``call`` for asyncio, run in the loop's default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, functools.partial(self.call, message, timeout, unpack=unpack))


Remote = override(Remote)
__all__.append('Remote')
