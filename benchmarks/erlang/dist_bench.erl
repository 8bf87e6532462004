%% SPDX-License-Identifier: LGPL-2.1-or-later
%%
%% Erlang distribution between two nodes on this machine, doing the work of
%% bench-remote: a counter gen_server on one node, called and cast to from
%% another, beside the same counter called on the caller's own node.
%% benchmarks/run-remote-comparison runs it; by hand, from the repository
%% root:
%%
%%   OUT=$(mktemp -d)
%%   erlc -o "$OUT" benchmarks/erlang/dist_bench.erl
%%   erl -sname dist_server -noshell -pa "$OUT" -s dist_bench serve &
%%   erl -sname dist_client -noshell -pa "$OUT" -s dist_bench main quick dist_server
%%
%% stdout carries one line per metric, "erlang <metric> <value> <unit>".

-module(dist_bench).
-behaviour(gen_server).

-export([serve/0, main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

init(Count) ->
    {ok, Count}.

handle_call({add, I}, _From, Count) ->
    {reply, Count + I, Count + I}.

handle_cast({add, I}, Count) ->
    {noreply, Count + I}.

%% On the server node: a registered counter, until the client stops the node.
serve() ->
    {ok, _} = gen_server:start({local, dist_counter}, ?MODULE, 0, []),
    receive stop -> ok end.

main([Scale, ServerName]) ->
    main([Scale, ServerName, dist]);
main([Scale, ServerName, Label]) ->
    {Calls, Casts} = case Scale of
                         quick -> {2000, 20000};
                         _ -> {20000, 200000}
                     end,
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Node = list_to_atom(atom_to_list(ServerName) ++ "@" ++ Host),
    wait_for(Node, 200),
    case Label of
        dist ->
            {ok, Local} = gen_server:start(?MODULE, 0, []),
            measure("local", Local, Calls, Casts);
        _ ->
            ok
    end,
    measure(atom_to_list(Label), {dist_counter, Node}, Calls, Casts),
    rpc:call(Node, init, stop, []),
    init:stop().

wait_for(Node, 0) ->
    io:format(standard_error, "dist_bench: ~p is not up~n", [Node]),
    halt(1);
wait_for(Node, Tries) ->
    case net_adm:ping(Node) of
        pong ->
            case rpc:call(Node, erlang, whereis, [dist_counter]) of
                Pid when is_pid(Pid) -> ok;
                _ -> timer:sleep(50), wait_for(Node, Tries - 1)
            end;
        pang -> timer:sleep(50), wait_for(Node, Tries - 1)
    end.

measure(Where, Server, Calls, Casts) ->
    [gen_server:call(Server, {add, 0}) || _ <- lists:seq(1, 100)],
    T0 = erlang:monotonic_time(microsecond),
    [gen_server:call(Server, {add, 1}) || _ <- lists:seq(1, Calls)],
    T1 = erlang:monotonic_time(microsecond),
    io:format("erlang call_rtt_~s ~.2f us~n", [Where, (T1 - T0) / Calls]),
    Before = gen_server:call(Server, {add, 0}),
    T2 = erlang:monotonic_time(microsecond),
    [gen_server:cast(Server, {add, 1}) || _ <- lists:seq(1, Casts)],
    After = gen_server:call(Server, {add, 0}, infinity),
    T3 = erlang:monotonic_time(microsecond),
    Casts = After - Before,
    io:format("erlang cast_rate_~s ~b msg/s~n", [Where, round(Casts / ((T3 - T2) / 1.0e6))]).
