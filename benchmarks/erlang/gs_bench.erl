%% SPDX-License-Identifier: LGPL-2.1-or-later
%%
%% Erlang/OTP reference numbers for the genserver benchmarks, using the real
%% OTP gen_server behaviour with a counter server (state is an integer).
%%
%% Build into a scratch directory (keeps .beam files out of the source tree)
%% and run, from the repository root:
%%
%%   OUT=$(mktemp -d)
%%   erlc -o "$OUT" benchmarks/erlang/gs_bench.erl
%%   erl -noshell -pa "$OUT" -s gs_bench main quick -s init stop
%%
%% The scale argument is `quick' (a few seconds) or `full' (default: quick).
%% Names of workloads after it run only those, as bench-server's --only does
%% (`-s gs_bench main quick call_rtt_busy').
%% benchmarks/compare.py does all of this by itself.
%%
%% stdout carries exactly one line per metric, "erlang <metric> <value> <unit>";
%% anything informational goes to stderr.  A failed check or a bad argument
%% halts erl with status 1.

-module(gs_bench).
-behaviour(gen_server).

-export([main/0, main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

-define(SCALE_SERVERS, 10000).

%% ---------------------------------------------------------------------------
%% Counter server

init(Count) ->
    {ok, Count}.

handle_call(incr, _From, Count) ->
    {reply, Count + 1, Count + 1};
handle_call(get, _From, Count) ->
    {reply, Count, Count}.

handle_cast({add, I}, Count) ->
    {noreply, Count + I}.

start_counter() ->
    {ok, Pid} = gen_server:start(?MODULE, 0, []),
    Pid.

%% ---------------------------------------------------------------------------
%% Entry point

main() ->
    main([quick]).

%% `-s` passes atoms, `-run` passes strings; accept both.
main([Scale | Only]) when is_list(Scale) ->
    main([list_to_atom(A) || A <- [Scale | Only]]);
main([]) ->
    main([quick]);
main(Args) ->
    %% Halting here, rather than letting init crash, avoids an erl_crash.dump
    %% in the working directory.
    try run(Args)
    catch Class:Reason:Stack ->
            io:format(standard_error, "gs_bench: ~p:~p~n~p~n",
                      [Class, Reason, Stack]),
            erlang:halt(1)
    end.

run([Scale | Only]) ->
    {Calls, Casts} = sizes(Scale),
    io:format(standard_error,
              "# gs_bench: OTP ~s, ~b schedulers, scale=~s, calls=~b, casts=~b~n",
              [erlang:system_info(otp_release),
               erlang:system_info(schedulers_online), Scale, Calls, Casts]),
    Selected = fun(Name) -> Only =:= [] orelse lists:member(Name, Only) end,
    Run = fun(Name, Fun) -> [Fun() || Selected(Name)], ok end,

    [report(call_rtt, bench(fun call_rtt/1, Calls), "us") || Selected(call_rtt)],
    [report(cast_rate_1, bench(fun cast_rate_1/1, Casts), "msg/s") || Selected(cast_rate_1)],
    [report(cast_rate_4, bench(fun cast_rate_4/1, Casts), "msg/s") || Selected(cast_rate_4)],
    [report(call_8_clients, bench(fun call_8_clients/1, Calls), "calls/s")
     || Selected(call_8_clients)],
    Run(scale_10k, fun() ->
                           {Secs, MiB} = bench(fun scale/1, ?SCALE_SERVERS),
                           report(scale_10k_time, Secs, "s"),
                           report(scale_10k_mem, MiB, "MiB")
                   end),
    [report(call_rtt_busy, bench(fun call_rtt_busy/1, Calls), "us") || Selected(call_rtt_busy)],
    [report(call_wake_1000_busy, bench(fun call_wake_1000_busy/1, Calls), "us")
     || Selected(call_wake_1000_busy)],
    Run(spawn, fun() ->
                       {Spawn10k, _} = bench(fun spawn_servers/1, ?SCALE_SERVERS),
                       report(spawn_10k_time, Spawn10k, "s"),
                       {Spawn100k, PerServer} = spawn_servers(10 * ?SCALE_SERVERS),
                       report(spawn_100k_time, Spawn100k, "s"),
                       report(mem_per_server, PerServer, "B")
               end),
    Run(cast_rate_pool, fun() ->
                                report(cast_rate_1_1000, bench(fun(N) -> cast_rate_many(1, 1000, N) end,
                                                               Casts), "msg/s"),
                                report(cast_rate_4_1000, bench(fun(N) -> cast_rate_many(4, 1000, N) end,
                                                               Casts), "msg/s")
                        end),
    ok.

sizes(quick) -> {10000, 100000};
sizes(full)  -> {200000, 2000000}.

%% Runs a workload once at 1/10th size to warm up (code loading, scheduler
%% wake-up, heap growth), then once for real.
bench(Fun, N) ->
    _ = Fun(max(N div 10, 8)),
    Fun(N).

report(Metric, Value, Unit) when Value >= 1000 ->
    io:format("erlang ~s ~b ~s~n", [Metric, round(Value), Unit]);
report(Metric, Value, Unit) ->
    io:format("erlang ~s ~.3f ~s~n", [Metric, float(Value), Unit]).

now_us() ->
    erlang:monotonic_time(microsecond).

%% ---------------------------------------------------------------------------
%% Workloads

%% One client, N sequential calls; returns microseconds per call.
call_rtt(N) ->
    S = start_counter(),
    T0 = now_us(),
    N = call_loop(S, N),
    T1 = now_us(),
    gen_server:stop(S),
    (T1 - T0) / N.

call_loop(S, 1) ->
    gen_server:call(S, incr);
call_loop(S, K) ->
    gen_server:call(S, incr),
    call_loop(S, K - 1).

%% One producer casts {add, I} for I = 1..N, then a call reads the total;
%% returns messages per second.
cast_rate_1(N) ->
    S = start_counter(),
    T0 = now_us(),
    ok = cast_loop(S, 1, N),
    Total = gen_server:call(S, get, infinity),
    T1 = now_us(),
    Total = N * (N + 1) div 2,
    gen_server:stop(S),
    N / ((T1 - T0) / 1.0e6).

cast_loop(_S, I, N) when I > N ->
    ok;
cast_loop(S, I, N) ->
    gen_server:cast(S, {add, I}),
    cast_loop(S, I + 1, N).

%% Four producers cast N/4 messages each; once all report they are done
%% sending, a call reads the total.  Returns messages per second.
cast_rate_4(N) ->
    Per = N div 4,
    S = start_counter(),
    Go = make_ref(),
    Producers = spawn_workers(4, Go, fun() -> cast_loop(S, 1, Per) end),
    T0 = now_us(),
    release(Producers, Go),
    wait_done(Producers, Go),
    Total = gen_server:call(S, get, infinity),
    T1 = now_us(),
    Total = 4 * (Per * (Per + 1) div 2),
    gen_server:stop(S),
    (4 * Per) / ((T1 - T0) / 1.0e6).

%% Eight clients do N/8 sequential calls each against one server; returns
%% calls per second.
call_8_clients(N) ->
    Per = N div 8,
    S = start_counter(),
    Go = make_ref(),
    Clients = spawn_workers(8, Go, fun() -> _ = call_loop(S, Per), ok end),
    T0 = now_us(),
    release(Clients, Go),
    wait_done(Clients, Go),
    T1 = now_us(),
    Total = gen_server:call(S, get),
    Total = 8 * Per,
    gen_server:stop(S),
    Total / ((T1 - T0) / 1.0e6).

%% Starts, calls once and stops Count servers.  Returns {Seconds, PeakMiB},
%% the memory being erlang:memory(total) sampled while all are alive.
scale(Count) ->
    T0 = now_us(),
    Servers = [start_counter() || _ <- lists:seq(1, Count)],
    Mem0 = erlang:memory(total),
    lists:foreach(fun(S) -> 1 = gen_server:call(S, incr) end, Servers),
    Mem1 = erlang:memory(total),
    lists:foreach(fun(S) -> ok = gen_server:stop(S) end, Servers),
    T1 = now_us(),
    {(T1 - T0) / 1.0e6, max(Mem0, Mem1) / (1024 * 1024)}.

%% call_rtt while a process that never stops computing keeps one scheduler
%% (a processor) busy.
call_rtt_busy(N) ->
    Burner = spawn(fun burn/0),
    Result = call_rtt(N),
    exit(Burner, kill),
    Result.

%% While a process keeps one scheduler busy, one client calls 1,000
%% servers in turn, so that each call finds its server idle since the
%% round before; returns microseconds per call.
call_wake_1000_busy(N) ->
    Servers = list_to_tuple([start_counter() || _ <- lists:seq(1, 1000)]),
    Burner = spawn(fun burn/0),
    T0 = now_us(),
    ok = call_round_robin(Servers, 0, N),
    T1 = now_us(),
    exit(Burner, kill),
    [gen_server:stop(element(I, Servers)) || I <- lists:seq(1, 1000)],
    (T1 - T0) / N.

call_round_robin(_Servers, N, N) ->
    ok;
call_round_robin(Servers, I, N) ->
    _ = gen_server:call(element((I rem 1000) + 1, Servers), incr),
    call_round_robin(Servers, I + 1, N).

burn() ->
    _ = lists:sum(lists:seq(1, 1000)),
    burn().

%% Starts Count servers, calls each once (no timeout, as genserver's
%% spawn rows do) and stops them.  Returns {Seconds, BytesPerServer}, the
%% memory being erlang:memory(total) while all are alive, less before.
spawn_servers(Count) ->
    Mem0 = erlang:memory(total),
    T0 = now_us(),
    Servers = [start_counter() || _ <- lists:seq(1, Count)],
    lists:foreach(fun(S) -> 1 = gen_server:call(S, incr, infinity) end, Servers),
    Mem1 = erlang:memory(total),
    lists:foreach(fun(S) -> ok = gen_server:stop(S) end, Servers),
    T1 = now_us(),
    {(T1 - T0) / 1.0e6, (Mem1 - Mem0) / Count}.

%% P producers cast N messages in all, round-robin over M servers; then a
%% call to each reads its total.  Returns messages per second.
cast_rate_many(P, M, N) ->
    Per = N div P,
    Servers = list_to_tuple([start_counter() || _ <- lists:seq(1, M)]),
    Go = make_ref(),
    Producers = spawn_workers(P, Go, fun() -> cast_round_robin(Servers, M, 1, Per) end),
    T0 = now_us(),
    release(Producers, Go),
    wait_done(Producers, Go),
    Total = lists:sum([gen_server:call(element(I, Servers), get, infinity)
                       || I <- lists:seq(1, M)]),
    T1 = now_us(),
    Total = P * Per,
    [gen_server:stop(element(I, Servers)) || I <- lists:seq(1, M)],
    (P * Per) / ((T1 - T0) / 1.0e6).

cast_round_robin(_Servers, _M, I, Per) when I > Per ->
    ok;
cast_round_robin(Servers, M, I, Per) ->
    gen_server:cast(element((I rem M) + 1, Servers), {add, 1}),
    cast_round_robin(Servers, M, I + 1, Per).

%% ---------------------------------------------------------------------------
%% Worker plumbing: workers are spawned up front and block until released,
%% so process creation stays outside the timed region.  A worker's failure is
%% passed back as a message and re-raised by wait_done/2, so main/1 can
%% report it (a link would kill the caller before its catch runs).

spawn_workers(K, Go, Work) ->
    Parent = self(),
    [spawn(fun() ->
                   receive Go -> ok end,
                   Result = try Work(), ok
                            catch Class:Reason -> {error, {Class, Reason}}
                            end,
                   Parent ! {Go, self(), Result}
           end)
     || _ <- lists:seq(1, K)].

release(Workers, Go) ->
    lists:foreach(fun(W) -> W ! Go end, Workers).

wait_done(Workers, Go) ->
    lists:foreach(fun(W) -> receive {Go, W, Result} -> ok = Result end end,
                  Workers).
