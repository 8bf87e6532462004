# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors as a Python user expects them: a handler's exception reaches a
Python caller with its own type (as in Pykka) while C still gets domain,
code and text; crashes are logged with their traceback on the class's
logger; handlers named the pure-Python genserver way are refused when the
class is made; None is a normal stop reason."""

import asyncio
import logging

import pytest
from conftest import DEADLINE, Recorder, assert_gen_error

from gi.repository import Gen, GenTest, GLib


class MissingKey(LookupError):
    """An exception class of the user's own, with an attribute."""

    def __init__(self, key):
        super().__init__(f"no {key}")
        self.key = key


class Shop(Gen.Server):
    call_type = '(ss)'
    cast_type = '(ss)'

    def do_init(self, args):
        if args is not None and args.unpack() == 'no stock':
            raise MissingKey('stock')
        self.stock = {'apple': 3}

    def do_handle_call(self, message):
        action, item = message.unpack()
        if action == 'count':
            return self.stock[item]  # KeyError for an unknown item
        if action == 'order':
            raise MissingKey(item)
        raise GLib.Error.new_literal(Gen.server_error_quark(), f"cannot {action}",
                                     Gen.ServerError.INVALID_MESSAGE)

    def do_handle_cast(self, message):
        action, item = message.unpack()
        if action == 'drop':
            del self.stock[item]  # KeyError: a crash


@pytest.fixture
def shop(servers):
    server = Shop()
    server.start()
    servers.append(server)
    return server


# Exceptions keep their type ----------------------------------------------------

def test_call_raises_the_handlers_exception_itself(shop):
    with pytest.raises(KeyError) as excinfo:
        shop.call(('count', 'pear'))
    assert excinfo.value.args == ('pear',)
    with pytest.raises(MissingKey) as excinfo:
        shop.call(('order', 'pear'))
    assert excinfo.value.key == 'pear'
    # The traceback leads to the handler's line.
    assert excinfo.traceback[-1].name == 'do_handle_call'
    assert shop.is_running()
    assert shop.call(('count', 'apple')) == 3


def test_a_variant_message_and_a_glib_error_keep_theirs_too(shop):
    with pytest.raises(KeyError):
        shop.call(GLib.Variant('(ss)', ('count', 'pear')))
    with pytest.raises(KeyError):
        shop.call(('count', 'pear'), unpack=False)  # through GObject Introspection
    with pytest.raises(GLib.Error) as excinfo:
        shop.call(('sell', 'apple'))
    assert assert_gen_error(excinfo, Gen.ServerError.INVALID_MESSAGE).message == 'cannot sell'


def test_start_raises_the_init_exception_itself():
    server = Shop()
    with pytest.raises(MissingKey) as excinfo:
        server.start('no stock')
    assert excinfo.value.key == 'stock'
    assert not server.is_running()


def test_async_callers_get_the_exception_itself(shop):
    async def main():
        with pytest.raises(MissingKey) as excinfo:
            await shop.acall(('order', 'fig'))
        return excinfo.value

    assert asyncio.run(main()).key == 'fig'

    results = []
    context = GLib.MainContext.default()
    shop.call_async(('count', 'kiwi'), lambda reply, error: results.append(error))
    deadline = GLib.get_monotonic_time() + int(DEADLINE * 1e6)
    while not results and GLib.get_monotonic_time() < deadline:
        context.iteration(True)
    assert isinstance(results[0], KeyError) and results[0].args == ('kiwi',)


def test_concurrent_failing_calls_each_get_their_own(shop):
    async def main():
        return await asyncio.gather(*(shop.acall(('order', f'item{i}')) for i in range(50)),
                                    return_exceptions=True)

    errors = asyncio.run(main())
    assert [error.key for error in errors] == [f'item{i}' for i in range(50)]


def test_calls_by_registered_name_get_the_exception_itself(shop):
    registry = Gen.Registry.new()
    registry.register('shop', shop)
    with pytest.raises(MissingKey) as excinfo:
        registry.call('shop', ('order', 'plum'))
    assert excinfo.value.key == 'plum'


class Door(Gen.Statem):
    def do_init_state(self, args):
        return 'closed'

    def do_handle_event(self, event_type, content, state):
        if content.unpack() == 'kick':
            raise RuntimeError("kicked")  # from a cast: a crash
        raise MissingKey(content.unpack())


def test_a_statem_callers_and_crashes(servers, caplog):
    door = Door()
    door.start()
    servers.append(door)
    with pytest.raises(MissingKey) as excinfo:
        door.call('key')
    assert excinfo.value.key == 'key'
    name = f'{__name__}.{Door.__qualname__}'
    with caplog.at_level(logging.ERROR, logger=name):
        door.cast('kick')
        reason = door.join(DEADLINE)
    assert isinstance(reason.__cause__, RuntimeError)
    (record,) = [record for record in caplog.records if record.name == name]
    assert record.getMessage() == "Door crashed in do_handle_event: RuntimeError: kicked"
    assert record.funcName == 'do_handle_event'


def test_c_callers_still_get_domain_code_and_text(shop):
    with pytest.raises(GLib.Error) as excinfo:
        GenTest.call_from_threads(shop, GLib.Variant('(ss)', ('order', 'pear')), 2, 1, 5000)
    error = assert_gen_error(excinfo, Gen.ServerError.FAILED)
    assert error.message == "MissingKey: no pear"


# Crashes are logged with their traceback -----------------------------------------

def test_a_crash_is_logged_with_file_line_and_traceback(shop, caplog):
    name = f'{__name__}.{Shop.__qualname__}'
    with caplog.at_level(logging.ERROR, logger=name):
        shop.cast(('drop', 'pear'))
        assert shop.join(DEADLINE) is not None
    records = [record for record in caplog.records if record.name == name]
    assert len(records) == 1, caplog.records
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Shop crashed in do_handle_cast: KeyError: 'pear'"
    # Placed where it was raised: the handler's file and line.
    assert record.pathname == __file__
    assert record.funcName == 'do_handle_cast'
    source = open(__file__).read().splitlines()[record.lineno - 1]
    assert 'del self.stock[item]' in source
    assert record.exc_info[0] is KeyError
    assert 'Traceback' in caplog.text


def test_the_log_names_a_nested_class_by_its_qualname(servers, caplog):
    class Outer:
        class Inner(Gen.Server):
            def do_handle_info(self, message):
                raise RuntimeError("inner")

    server = Outer.Inner()
    server.start()
    servers.append(server)
    with caplog.at_level(logging.ERROR):
        server.send_info('go')
        reason = server.join(DEADLINE)
    assert isinstance(reason.__cause__, RuntimeError)
    (record,) = [record for record in caplog.records if record.exc_info]
    assert record.name == f'{__name__}.{Outer.Inner.__qualname__}'
    assert record.getMessage().startswith(f'{Outer.Inner.__qualname__} crashed in do_handle_info')
    assert '<locals>.Outer.Inner' in record.name


# Handlers named the pure-Python genserver way -------------------------------------

@pytest.mark.parametrize('name', ['handle_cast', 'handle_call', 'handle_info', 'init',
                                  'terminate'])
def test_pure_python_genserver_names_are_refused_when_the_class_is_made(name):
    def method(self, *args):
        pass

    with pytest.raises(TypeError) as excinfo:
        type('Migrant', (Gen.Server,), {name: method})
    assert f"Migrant defines {name}()" in str(excinfo.value)
    assert f"do_{name}" in str(excinfo.value)


def test_a_method_of_that_name_beside_its_handler_is_allowed(servers):
    class Careful(Gen.Server):
        def do_handle_cast(self, message):
            self.handle_cast(message.unpack())

        def handle_cast(self, value):
            self.seen.add(value)

        def do_init(self, args):
            self.seen = Recorder()

    server = Careful()
    server.start()
    servers.append(server)
    server.cast('x')
    server.seen.wait_for(lambda events: events == ['x'])


# None is a normal stop reason ---------------------------------------------------

def test_stop_with_reason_none_is_a_normal_stop(shop):
    stopped = Recorder()
    shop.monitor(lambda server, reason: stopped.add(reason), threaded=True)
    assert shop.stop_with_reason(None)
    assert not shop.is_running()
    assert shop.join(DEADLINE) is None
    assert stopped.wait_for(lambda reasons: reasons) == [None]


class Light(Gen.Statem):
    """A Gen.Statem without a do_terminate of its own."""

    def do_init_state(self, args):
        return 'off'

    def do_handle_event(self, event_type, content, state):
        return 'on' if state.unpack() == 'off' else 'off'


def test_a_statem_without_do_terminate_stops_quietly(caplog):
    machine = Light()
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            machine.start()
            machine.cast('flip')
            assert machine.stop()
            assert machine.join(DEADLINE) is None
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING], \
        caplog.text


# Casts reach do_handle_cast without PyGObject's vfunc closure -------------------

class Refusing(Gen.Server):
    def do_handle_cast(self, message):
        if message.unpack() == 'refuse':
            raise GLib.Error.new_literal(GLib.quark_from_string('shop-error'), "refused", 7)
        self.seen.add(message.unpack())

    def do_init(self, args):
        self.seen = Recorder()


class Inheriting(Refusing):
    """Defines no do_handle_cast: the parent's runs."""


@pytest.mark.parametrize('cls', [Refusing, Inheriting])
def test_a_cast_handlers_glib_error_keeps_domain_and_code(cls):
    server = cls()
    server.start()
    server.cast('ok')
    server.seen.wait_for(lambda events: events == ['ok'])
    server.cast('refuse')
    reason = server.join(DEADLINE)
    assert reason.matches(GLib.quark_from_string('shop-error'), 7), reason
    assert reason.message == 'refused'
