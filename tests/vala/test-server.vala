/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Gen.Server subclassed and driven from Vala (--pkg genserver-1), with the
 * VAPI that meson generates from the GIR.
 */

const int DEADLINE_MS = 30000;

/* Casts are (si): ("add", n), ("block", 0), ("crash", 0). Calls are (si):
 * ("get", 0), ("add", n), ("fail", 0), ("self", 0), ("stop", 0). */
class Counter : Gen.Server {
    /* Server thread only. */
    private int count;

    /* Protected by `mutex`: what the test thread waits for. */
    private Mutex mutex;
    private Cond cond;
    private bool gate_open;
    private bool blocked;
    public int terminate_count;
    public string? terminate_reason;
    public Thread<void*>? handler_thread;

    class construct {
        set_cast_type ("(si)");
        set_call_type ("(si)");
    }

    public override void init (Variant? args) throws Error {
        count = args == null ? 0 : args.get_int32 ();
        if (count < 0)
            throw new IOError.INVALID_ARGUMENT ("cannot start at %d", count);
        mutex.lock ();
        handler_thread = Thread.self<void*> ();
        gate_open = false;
        mutex.unlock ();
    }

    private void wait_at_gate () {
        mutex.lock ();
        blocked = true;
        cond.broadcast ();
        while (!gate_open)
            cond.wait (mutex);
        mutex.unlock ();
    }

    public void wait_blocked () {
        var deadline = get_monotonic_time () + DEADLINE_MS * 1000;
        mutex.lock ();
        while (!blocked)
            if (!cond.wait_until (mutex, deadline))
                break;
        assert_true (blocked);
        mutex.unlock ();
    }

    public void open_gate () {
        mutex.lock ();
        gate_open = true;
        cond.broadcast ();
        mutex.unlock ();
    }

    public int wait_terminated (int times) {
        var deadline = get_monotonic_time () + DEADLINE_MS * 1000;
        mutex.lock ();
        while (terminate_count < times)
            if (!cond.wait_until (mutex, deadline))
                break;
        var result = terminate_count;
        mutex.unlock ();
        return result;
    }

    public override void handle_cast (Variant message) throws Error {
        string action;
        int arg;
        message.get ("(si)", out action, out arg);
        if (action == "add")
            count += arg;
        else if (action == "block")
            wait_at_gate ();
        else if (action == "crash")
            throw new IOError.BROKEN_PIPE ("crashed on purpose");
    }

    public override Variant? handle_call (Variant message) throws Error {
        string action;
        int arg;
        message.get ("(si)", out action, out arg);
        switch (action) {
        case "get":
            return new Variant.int32 (count);
        case "add":
            count += arg;
            return new Variant.int32 (count);
        case "fail":
            throw new IOError.PERMISSION_DENIED ("failed with %d", arg);
        case "self":
            try {
                call (new Variant ("(si)", "get", 0), 1000);
            } catch (Gen.ServerError.CALLING_SELF error) {
                return new Variant.boolean (true);
            }
            return new Variant.boolean (false);
        case "stop":
            return new Variant.boolean (stop (-1));
        default:
            throw new Gen.ServerError.INVALID_MESSAGE ("unknown action %s", action);
        }
    }

    public override void terminate (Error? reason) {
        mutex.lock ();
        terminate_count++;
        terminate_reason = reason == null ? null : reason.message;
        cond.broadcast ();
        mutex.unlock ();
    }
}

/* handle_info counts info messages; a call takes its reply and answers it
 * from another thread. */
class Deferring : Gen.Server {
    public int infos; /* atomic */

    public override void handle_info (Variant message) throws Error {
        AtomicInt.inc (ref infos);
    }

    public override Variant? handle_call (Variant message) throws Error {
        if (message.get_string () == "info count")
            return new Variant.int32 (AtomicInt.get (ref infos));
        Gen.Reply reply = take_reply ();
        new Thread<void*> ("answer", () => {
            reply.return_value (new Variant.string ("late"));
            return null;
        });
        return null;
    }
}

void test_info_and_deferred_reply () {
    var server = new Deferring ();
    try {
        server.start (null);
        server.send_info (new Variant.string ("a"));
        server.send_info (new Variant.string ("b"));
        assert_cmpint (server.call (new Variant.string ("info count"), DEADLINE_MS).get_int32 (),
                       CompareOperator.EQ, 2);
        assert_cmpstr (server.call (new Variant.string ("defer"), DEADLINE_MS).get_string (),
                       CompareOperator.EQ, "late");
        server.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

Counter start_counter (int start = 0) {
    var counter = new Counter ();
    try {
        assert_true (counter.start (new Variant.int32 (start)));
    } catch (Error error) {
        GLib.error ("start: %s", error.message);
    }
    return counter;
}

int call_int (Gen.Server server, string action, int arg = 0) {
    try {
        return server.call (new Variant ("(si)", action, arg), DEADLINE_MS).get_int32 ();
    } catch (Error error) {
        GLib.error ("call %s: %s", action, error.message);
    }
}

void test_start_stop () {
    var counter = start_counter (40);
    assert_true (counter.is_running ());
    assert_true (counter.handler_thread != Thread.self<void*> ());
    assert_cmpint (call_int (counter, "get"), CompareOperator.EQ, 40);
    try {
        assert_true (counter.stop (-1));
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_false (counter.is_running ());
    assert_cmpint (counter.terminate_count, CompareOperator.EQ, 1);
    assert_null (counter.terminate_reason);
}

void test_restart () {
    var counter = start_counter (1);
    try {
        counter.cast (new Variant ("(si)", "add", 1));
        assert_cmpint (call_int (counter, "get"), CompareOperator.EQ, 2);
        counter.stop (-1);
        counter.start (null);
        assert_cmpint (call_int (counter, "get"), CompareOperator.EQ, 0);
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_cmpint (counter.terminate_count, CompareOperator.EQ, 2);
}

void test_init_failure () {
    var counter = new Counter ();
    try {
        counter.start (new Variant.int32 (-1));
        assert_not_reached ();
    } catch (IOError.INVALID_ARGUMENT error) {
        assert_cmpstr (error.message, CompareOperator.EQ, "cannot start at -1");
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
    assert_false (counter.is_running ());
}

void test_cast_call () {
    var counter = start_counter ();
    try {
        for (var i = 0; i < 100; i++)
            counter.cast (new Variant ("(si)", "add", i));
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_cmpint (call_int (counter, "add", 50), CompareOperator.EQ, 5000);
    assert_cmpint (Gen.SERVER_DEFAULT_TIMEOUT, CompareOperator.EQ, 5000);
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

void test_typed_messages () {
    var counter = start_counter ();
    assert_cmpstr (counter.get_cast_type (), CompareOperator.EQ, "(si)");
    assert_cmpstr (counter.cast_type, CompareOperator.EQ, "(si)");
    try {
        counter.cast (new Variant ("(ss)", "add", "one"));
        assert_not_reached ();
    } catch (Gen.ServerError.INVALID_MESSAGE error) {
        assert_cmpstr (error.message, CompareOperator.EQ,
                       "Counter expects cast messages of type “(si)”, got “(ss)”");
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
    try {
        counter.call (new Variant.string ("get"), 1000);
        assert_not_reached ();
    } catch (Gen.ServerError.INVALID_MESSAGE error) {
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
    assert_cmpint (call_int (counter, "get"), CompareOperator.EQ, 0);
    var any = (Counter) Object.new (typeof (Counter), cast_type: "x");
    assert_cmpstr (any.get_cast_type (), CompareOperator.EQ, "x");
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

void test_handler_error () {
    var counter = start_counter ();
    try {
        counter.call (new Variant ("(si)", "fail", 7), DEADLINE_MS);
        assert_not_reached ();
    } catch (IOError.PERMISSION_DENIED error) {
        assert_cmpstr (error.message, CompareOperator.EQ, "failed with 7");
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
    assert_true (counter.is_running ());
    assert_cmpint (call_int (counter, "add", 1), CompareOperator.EQ, 1);
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

void test_crash () {
    var counter = start_counter ();
    Test.expect_message ("Gen", LogLevelFlags.LEVEL_MESSAGE, "*crashed: crashed on purpose");
    try {
        counter.cast (new Variant ("(si)", "crash", 0));
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_cmpint (counter.wait_terminated (1), CompareOperator.EQ, 1);
    Test.assert_expected_messages ();
    assert_cmpstr (counter.terminate_reason, CompareOperator.EQ, "crashed on purpose");
    assert_false (counter.is_running ());
}

void test_timeout () {
    var counter = start_counter ();
    try {
        counter.cast (new Variant ("(si)", "block", 0));
        counter.wait_blocked ();
        counter.call (new Variant ("(si)", "add", 100), 20);
        assert_not_reached ();
    } catch (Gen.ServerError.TIMEOUT error) {
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
    counter.open_gate ();
    /* The timed-out call was still queued: it never ran. */
    assert_cmpint (call_int (counter, "get"), CompareOperator.EQ, 0);
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

void test_calling_self_and_stop_inside () {
    var counter = start_counter ();
    try {
        assert_true (counter.call (new Variant ("(si)", "self", 0), DEADLINE_MS).get_boolean ());
        assert_true (counter.call (new Variant ("(si)", "stop", 0), DEADLINE_MS).get_boolean ());
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_cmpint (counter.wait_terminated (1), CompareOperator.EQ, 1);
    try {
        counter.cast (new Variant ("(si)", "add", 1));
        assert_not_reached ();
    } catch (Gen.ServerError.NOT_RUNNING error) {
    } catch (Error error) {
        GLib.error ("wrong error: %s", error.message);
    }
}

async int add_async (Gen.Server server, int amount) throws Error {
    var reply = yield server.call_async (new Variant ("(si)", "add", amount), DEADLINE_MS, null);
    return reply.get_int32 ();
}

void test_call_async () {
    var counter = start_counter (10);
    var loop = new MainLoop ();
    int[] replies = {};
    Error? failure = null;

    for (var i = 0; i < 3; i++) {
        add_async.begin (counter, 1, (obj, result) => {
            try {
                replies += add_async.end (result);
            } catch (Error error) {
                failure = error;
            }
            if (replies.length == 3)
                loop.quit ();
        });
    }
    loop.run ();
    assert_no_error (failure);
    assert_cmpint (replies[0], CompareOperator.EQ, 11);
    assert_cmpint (replies[2], CompareOperator.EQ, 13);

    /* The handler's error arrives through yield too. */
    counter.call_async.begin (new Variant ("(si)", "fail", 3), DEADLINE_MS, null, (obj, result) => {
        try {
            counter.call_async.end (result);
        } catch (Error error) {
            failure = error;
        }
        loop.quit ();
    });
    loop.run ();
    assert_error (failure, IOError.quark (), IOError.PERMISSION_DENIED);
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

/* A request's reply awaited with yield: Gen.Request.wait_async, on this
 * thread's main context, while the counter answers on its own thread. A
 * timed-out wait leaves the request pending; the next wait gets the
 * reply, and every wait after it the same reply. */
async int request_reply (Gen.Request request, int timeout_ms) throws Error {
    var reply = yield request.wait_async (timeout_ms, null);
    return reply.get_int32 ();
}

void test_request_wait_async () {
    var counter = start_counter (10);
    var loop = new MainLoop ();
    int[] replies = {};
    Error? failure = null;

    try {
        counter.cast (new Variant ("(si)", "block", 0));
    } catch (Error error) {
        assert_no_error (error);
    }
    counter.wait_blocked ();
    var request = counter.send_request (new Variant ("(si)", "add", 5));
    request_reply.begin (request, 10, (obj, result) => {
        try {
            replies += request_reply.end (result);
        } catch (Error error) {
            failure = error;
        }
        loop.quit ();
    });
    loop.run ();
    assert_error (failure, Gen.ServerError.quark (), Gen.ServerError.TIMEOUT);
    assert_cmpint (replies.length, CompareOperator.EQ, 0);

    counter.open_gate ();
    failure = null;
    for (var i = 0; i < 2; i++) {
        request_reply.begin (request, DEADLINE_MS, (obj, result) => {
            try {
                replies += request_reply.end (result);
            } catch (Error error) {
                failure = error;
            }
            loop.quit ();
        });
        loop.run ();
    }
    assert_no_error (failure);
    assert_cmpint (replies[0], CompareOperator.EQ, 15);
    assert_cmpint (replies[1], CompareOperator.EQ, 15);
    try {
        counter.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
}

/* Every vfunc of Gen.Server overridden, each leaving a trace in `log`
 * (handler thread only until the server stopped). */
class Everything : Gen.Server {
    public string log = "";
    public Mutex mutex;
    public bool terminated; /* mutex */

    public override void init (Variant? args) throws Error {
        log += "init ";
        @continue (new Variant.string ("after init"));
    }

    public override void handle_continue (Variant message) throws Error {
        log += "continue(%s) ".printf (message.get_string ());
    }

    public override void handle_cast (Variant message) throws Error {
        log += "cast ";
    }

    public override void handle_info (Variant message) throws Error {
        log += "info ";
    }

    public override Variant? handle_call (Variant message) throws Error {
        return new Variant.string (log);
    }

    public override Variant? format_status () {
        return new Variant.int32 (log.length);
    }

    public override void terminate (Error? reason) {
        mutex.lock ();
        terminated = true;
        mutex.unlock ();
    }
}

/* Both vfuncs of Gen.Statem: a switch that is off or on; a call toggles
 * it and answers the state it left. */
class Switch : Gen.Statem {
    public override Variant? init_state (Variant? args) throws Error {
        return new Variant.string ("off");
    }

    public override Variant? handle_event (Gen.StatemEventType event_type, Variant event_content,
                                           Variant state) throws Error {
        if (event_type != Gen.StatemEventType.CALL)
            return null;
        reply (take_reply (), state);
        return new Variant.string (state.get_string () == "off" ? "on" : "off");
    }
}

/* Runs the default main context until @done says so, failing the test
 * at the deadline instead of hanging. */
void run_until (owned SourceFunc done) {
    var timed_out = false;
    var deadline = Timeout.add (DEADLINE_MS, () => {
        timed_out = true;
        return Source.REMOVE;
    });
    while (!done () && !timed_out)
        MainContext.default ().iteration (true);
    if (!timed_out)
        Source.remove (deadline);
    assert_false (timed_out);
}

void test_every_vfunc () {
    var server = new Everything ();
    var statem = new Switch ();
    try {
        server.start (null);
        server.cast (new Variant.string ("c"));
        server.send_info (new Variant.string ("i"));
        var log = "init continue(after init) cast info ";
        assert_cmpstr (server.call (new Variant.string ("log"), DEADLINE_MS).get_string (),
                       CompareOperator.EQ, log);
        /* format_status's answer, as the status's "state" (a variant). */
        var state = server.get_status ().lookup_value ("state", VariantType.VARIANT);
        assert_cmpint (state.get_variant ().get_int32 (), CompareOperator.EQ, log.length);
        server.stop (-1);

        statem.start (null);
        assert_cmpstr (statem.call (new Variant.string ("toggle"), DEADLINE_MS).get_string (),
                       CompareOperator.EQ, "off");
        assert_cmpstr (statem.call (new Variant.string ("toggle"), DEADLINE_MS).get_string (),
                       CompareOperator.EQ, "on");
        statem.stop (-1);
    } catch (Error error) {
        assert_no_error (error);
    }
    server.mutex.lock ();
    assert_true (server.terminated);
    server.mutex.unlock ();
}

/* A lambda for each monitor: of a server, of a group, of a remote. */
void test_monitor_lambdas () {
    var counter = start_counter ();
    string? server_reason = null;
    var server_told = false;
    counter.monitor ((server, reason) => {
        server_told = true;
        server_reason = reason == null ? null : reason.message;
    });

    var groups = new Gen.Group ();
    string[] changes = {};
    groups.monitor ("workers", (self, group, server, joined) => {
        changes += "%s %s".printf (group, joined ? "joined" : "left");
    });

    try {
        groups.join ("workers", counter);
        Test.expect_message ("Gen", LogLevelFlags.LEVEL_MESSAGE, "*crashed: crashed on purpose");
        counter.cast (new Variant ("(si)", "crash", 0));
    } catch (Error error) {
        assert_no_error (error);
    }
    run_until (() => server_told && changes.length == 2);
    Test.assert_expected_messages ();
    assert_cmpstr (server_reason, CompareOperator.EQ, "crashed on purpose");
    assert_cmpstr (changes[0], CompareOperator.EQ, "workers joined");
    assert_cmpstr (changes[1], CompareOperator.EQ, "workers left");
}

/* A run-end lambda, added by init: called as the run ends, on the
 * server's thread, with the run's reason; read here once stop() returned. */
class Ender : Gen.Server {
    public int ends;
    public string? last_reason;

    public override void init (Variant? args) throws Error {
        add_run_end_func ((server, reason) => {
            ends++;
            last_reason = reason == null ? null : reason.message;
        });
    }
}

void test_run_end_lambda () {
    var ender = new Ender ();
    try {
        ender.start (null);
        ender.stop (-1);
        assert_cmpint (ender.ends, CompareOperator.EQ, 1);
        assert_true (ender.last_reason == null);
        ender.start (null);
        ender.stop_with_reason (new IOError.BROKEN_PIPE ("gone"), -1);
    } catch (Error error) {
        assert_no_error (error);
    }
    assert_cmpint (ender.ends, CompareOperator.EQ, 2);
    assert_cmpstr (ender.last_reason, CompareOperator.EQ, "gone");
}

void test_remote_monitor_lambda () {
    var service_path = Environment.get_variable ("GEN_TEST_REMOTE_SERVER");
    if (service_path == null) {
        Test.skip ("GEN_TEST_REMOTE_SERVER is not set");
        return;
    }
    try {
        var dir = DirUtils.make_tmp ("genserver-vala-XXXXXX");
        var address = "unix:path=%s/socket".printf (dir);
        var service = new Subprocess (SubprocessFlags.STDIN_PIPE | SubprocessFlags.STDOUT_PIPE,
                                      service_path, "--serve", address);
        var output = new DataInputStream (service.get_stdout_pipe ());
        assert_cmpstr (output.read_line_utf8 (), CompareOperator.EQ, "ready");
        var connection = new DBusConnection.for_address_sync (
            address, DBusConnectionFlags.AUTHENTICATION_CLIENT);
        var remote = new Gen.Remote.sync (connection, null, "/io/github/genserver/Test/Counter");

        string? reason_message = null;
        var told = false;
        remote.monitor ((remote, reason) => {
            told = true;
            reason_message = reason == null ? null : reason.message;
        });
        assert_true (remote.call (new Variant ("(sx)", "get", (int64) 0), DEADLINE_MS).get_int64 () == 0);
        Variant? async_reply = null;
        remote.call_async.begin (new Variant ("(sx)", "add", (int64) 2), DEADLINE_MS, null, (obj, result) => {
            try {
                async_reply = remote.call_async.end (result);
            } catch (Error error) {
                GLib.error ("call_async: %s", error.message);
            }
        });
        run_until (() => async_reply != null);
        assert_true (async_reply.get_int64 () == 2);
        service.force_exit ();
        run_until (() => told);
        assert_true (reason_message.has_prefix ("noconnection"));

        service.wait ();
        FileUtils.unlink (dir + "/socket");
        DirUtils.remove (dir);
    } catch (Error error) {
        assert_no_error (error);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/start-stop", test_start_stop);
    Test.add_func ("/vala/restart", test_restart);
    Test.add_func ("/vala/init-failure", test_init_failure);
    Test.add_func ("/vala/cast-call", test_cast_call);
    Test.add_func ("/vala/typed-messages", test_typed_messages);
    Test.add_func ("/vala/handler-error", test_handler_error);
    Test.add_func ("/vala/crash", test_crash);
    Test.add_func ("/vala/timeout", test_timeout);
    Test.add_func ("/vala/calling-self-and-stop-inside", test_calling_self_and_stop_inside);
    Test.add_func ("/vala/call-async", test_call_async);
    Test.add_func ("/vala/request-wait-async", test_request_wait_async);
    Test.add_func ("/vala/info-and-deferred-reply", test_info_and_deferred_reply);
    Test.add_func ("/vala/every-vfunc", test_every_vfunc);
    Test.add_func ("/vala/monitor-lambdas", test_monitor_lambdas);
    Test.add_func ("/vala/run-end-lambda", test_run_end_lambda);
    Test.add_func ("/vala/remote-monitor-lambda", test_remote_monitor_lambda);
    return Test.run ();
}
