/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Gen.DBusListener from Vala: a Vala server served peer-to-peer on every
 * connection and called from another process (test-dbus-listener --call),
 * and a silent peer cut off after the handshake timeout.
 */

const int DEADLINE_MS = 30000;

/* Calls ("add", n): adds n, answers the sum. */
class Adder : Gen.Server {
    /* Server thread only. */
    private int64 sum;

    class construct {
        set_call_type ("(sx)");
    }

    public override Variant? handle_call (Variant message) throws Error {
        int64 n;
        message.get ("(sx)", null, out n);
        sum += n;
        return new Variant.int64 (sum);
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

/* What another process got from calling @object_path with @message; null
 * if it could not. The listener is on this thread's context: it runs
 * while the peer calls. */
string? call_from_another_process (string address, string object_path, string message)
        throws Error {
    var peer = new Subprocess (SubprocessFlags.STDOUT_PIPE | SubprocessFlags.STDERR_SILENCE,
                               Environment.get_variable ("GEN_TEST_DBUS_LISTENER"),
                               "--call", address, object_path, message);
    string? output = null;
    var done = false;
    peer.communicate_utf8_async.begin (null, null, (obj, result) => {
        try {
            peer.communicate_utf8_async.end (result, out output, null);
        } catch (Error error) {
            GLib.error ("communicate: %s", error.message);
        }
        done = true;
    });
    run_until (() => done);
    return peer.get_successful () ? output.strip () : null;
}

/* Connections the listener of test_export() accepted. */
int new_connections = 0;

void test_export () {
    try {
        var dir = DirUtils.make_tmp ("genserver-vala-XXXXXX");
        var address = "unix:path=%s/socket".printf (dir);
        var listener = new Gen.DBusListener (address, null);
        var adder = new Adder ();
        listener.new_connection.connect ((connection) => new_connections++);
        assert_cmpstr (listener.client_address, CompareOperator.EQ, address);
        adder.start (null);
        listener.export (adder, "/adder");
        assert_cmpstr (call_from_another_process (address, "/adder", "(\"add\", 2)"),
                       CompareOperator.EQ, "2");
        assert_cmpstr (call_from_another_process (address, "/adder", "(\"add\", 3)"),
                       CompareOperator.EQ, "5");
        assert_cmpint (new_connections, CompareOperator.EQ, 2);
        assert_true (listener.unexport (adder));
        assert_null (call_from_another_process (address, "/adder", "(\"add\", 1)"));
        listener.close ();
        assert_false (FileUtils.test (dir + "/socket", FileTest.EXISTS));
        adder.stop (DEADLINE_MS);
        DirUtils.remove (dir);
    } catch (Error error) {
        assert_no_error (error);
    }
}

void test_handshake_timeout () {
    try {
        var dir = DirUtils.make_tmp ("genserver-vala-XXXXXX");
        var path = dir + "/socket";
        var listener = new Gen.DBusListener ("unix:path=" + path, null);
        listener.handshake_timeout = 100;

        /* A peer that connects and never writes: the listener hangs up. */
        var silent = new SocketClient ().connect (new UnixSocketAddress (path));
        var input = silent.get_input_stream ();
        Bytes? read = null;
        input.read_bytes_async.begin (1, Priority.DEFAULT, null, (obj, result) => {
            try {
                read = input.read_bytes_async.end (result);
            } catch (Error error) {
                read = new Bytes (null);
            }
        });
        run_until (() => read != null);
        assert_cmpuint ((uint) read.get_size (), CompareOperator.EQ, 0);
        listener.close ();
        DirUtils.remove (dir);
    } catch (Error error) {
        assert_no_error (error);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/dbus-listener/export", test_export);
    Test.add_func ("/vala/dbus-listener/handshake-timeout", test_handshake_timeout);
    return Test.run ();
}
