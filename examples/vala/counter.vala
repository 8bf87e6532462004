/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The counter of the original Python genserver README, in Vala:
 *
 *   valac --pkg genserver-1 counter.vala
 *
 * The handlers run on the server's own thread; main calls it both ways,
 * blocking and with yield.
 */

class CounterServer : Gen.Server {
    private int count; /* touched only by the server's thread */

    class construct {
        set_cast_type ("s"); /* an action */
        set_call_type ("s");
    }

    public override void init (Variant? args) throws Error {
        count = 0;
    }

    public override void handle_cast (Variant message) throws Error {
        switch (message.get_string ()) {
        case "increment":
            count++;
            break;
        case "decrement":
            count--;
            break;
        }
    }

    public override Variant? handle_call (Variant message) throws Error {
        switch (message.get_string ()) {
        case "get_count":
            return new Variant.int32 (count);
        case "increment_and_get":
            return new Variant.int32 (++count);
        default:
            throw new Gen.ServerError.INVALID_MESSAGE ("Unknown action “%s”", message.get_string ());
        }
    }

    public override void terminate (Error? reason) {
        print ("Counter Server Stopped.\n");
    }
}

async void run (CounterServer counter) throws Error {
    counter.cast (new Variant.string ("increment"));
    counter.cast (new Variant.string ("increment"));

    var count = counter.call (new Variant.string ("get_count"), Gen.SERVER_DEFAULT_TIMEOUT);
    print ("Current Count: %d\n", count.get_int32 ());

    var new_count = yield counter.call_async (new Variant.string ("increment_and_get"),
                                              Gen.SERVER_DEFAULT_TIMEOUT, null);
    print ("Incremented Count: %d\n", new_count.get_int32 ());
}

int main () {
    var counter = new CounterServer ();
    var loop = new MainLoop ();
    Error? failure = null;

    try {
        counter.start (null);
    } catch (Error error) {
        printerr ("counter: %s\n", error.message);
        return 1;
    }

    run.begin (counter, (obj, result) => {
        try {
            run.end (result);
        } catch (Error error) {
            failure = error;
        }
        loop.quit ();
    });
    loop.run ();

    try {
        counter.stop (Gen.SERVER_DEFAULT_TIMEOUT);
    } catch (Error error) {
        failure = failure ?? error;
    }
    if (failure != null) {
        printerr ("counter: %s\n", failure.message);
        return 1;
    }
    return 0;
}
