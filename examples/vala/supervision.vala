/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Let it crash, in Vala: a supervised worker crashes, its supervisor
 * restarts it with fresh state, and its registered name follows the new
 * instance. The same program as examples/supervision.c:
 *
 *   valac --pkg genserver-1 --pkg gio-2.0 supervision.vala
 *
 * A Vala class is a GType like a C one: the supervisor creates a fresh
 * instance of it for each restart, and its handlers run on its own thread.
 */

class Worker : Gen.Server {
    private int count; /* touched only by the server's thread */

    class construct {
        set_cast_type ("s");
    }

    public override void init (Variant? args) throws Error {
        count = 0;
        print ("Worker started with count 0\n");
    }

    public override void handle_cast (Variant message) throws Error {
        switch (message.get_string ()) {
        case "add":
            count++;
            break;
        case "crash":
            throw new IOError.FAILED ("asked to crash");
        }
    }

    public override Variant? handle_call (Variant message) throws Error {
        return new Variant.int32 (count);
    }

    public override void terminate (Error? reason) {
        if (reason != null)
            print ("Worker stopped: %s\n", reason.message);
        else
            print ("Worker stopped normally\n");
    }
}

int count_of_worker (Gen.Registry registry) throws Error {
    return registry.call ("worker", new Variant.string ("get"), Gen.SERVER_DEFAULT_TIMEOUT).get_int32 ();
}

int main () {
    Intl.setlocale (LocaleCategory.ALL, "");
    Log.set_handler ("Gen", LogLevelFlags.LEVEL_MESSAGE, (domain, level, message) => {
        print ("Crash report: %s\n", message);
    });

    unowned var registry = Gen.Registry.get_default ();
    var spec = new Gen.ChildSpec ("worker", typeof (Worker), null);
    spec.set_name ("worker");
    var supervisor = new Gen.Supervisor (Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 5000);

    try {
        supervisor.start (Gen.Supervisor.build_args ({ spec }));

        registry.cast ("worker", new Variant.string ("add"));
        registry.cast ("worker", new Variant.string ("add"));
        print ("Count: %d\n", count_of_worker (registry));

        var first = registry.lookup ("worker");
        var stopped = false;
        first.monitor ((server, reason) => { stopped = true; });
        registry.cast ("worker", new Variant.string ("crash"));
        while (!stopped)
            MainContext.default ().iteration (true);

        /* Answered after the crash notice: the restart is done. */
        supervisor.which_children ();
        var second = registry.lookup ("worker");
        print ("The name “worker” now belongs to %s instance\n",
               second != null && second != first ? "a new" : "the old");
        registry.cast ("worker", new Variant.string ("add"));
        print ("Count: %d\n", count_of_worker (registry));

        supervisor.stop (-1);
    } catch (Error error) {
        printerr ("supervision: %s\n", error.message);
        return 1;
    }
    print ("Supervisor stopped.\n");
    return 0;
}
