%% SPDX-License-Identifier: Apache-2.0
%% Erlang/OTP's own supervisor on issue 14's one_for_all case, the
%% reference sup_test.c's test_one_for_all_retry_restarts_all follows:
%% a, b, c under one_for_all (intensity 3); b's later starts fail; a is
%% killed. Prints every start and stop. Not part of CI (Erlang is not a
%% dependency). Run: apt-get install erlang-base, then
%%   erlc one_for_all_retry.erl && erl -noshell -s one_for_all_retry main
%% OTP 25 prints: kill a, stop c, stop b, start a, start b (fails), then
%% twice: stop a, start a, start b (fails); then stop a and gives up.
-module(one_for_all_retry).
-behaviour(supervisor).
-export([main/0, init/1, start_child/1, child_loop/1]).

log(Fmt, Args) -> io:format(Fmt ++ "~n", Args).

start_child(Id) ->
    N = case ets:lookup(cnt, Id) of [] -> 0; [{_, X}] -> X end,
    ets:insert(cnt, {Id, N + 1}),
    log("start ~p (#~p)", [Id, N + 1]),
    case {Id, N} of
        {b, K} when K > 0 -> log("  start ~p fails", [Id]), {error, nope};
        _ ->
            Pid = proc_lib:spawn_link(fun() -> process_flag(trap_exit, true), child_loop(Id) end),
            {ok, Pid}
    end.

child_loop(Id) ->
    receive
        {'EXIT', _, shutdown} -> log("stop ~p", [Id]), exit(shutdown);
        {'EXIT', _, R} -> log("stop ~p (~p)", [Id, R]), exit(R);
        die -> log("kill ~p", [Id]), exit(crash)
    end.

init(MaxR) ->
    Spec = fun(Id) -> #{id => Id, start => {?MODULE, start_child, [Id]},
                        restart => permanent, shutdown => 1000, type => worker} end,
    {ok, {#{strategy => one_for_all, intensity => MaxR, period => 300},
          [Spec(a), Spec(b), Spec(c)]}}.

main() ->
    ets:new(cnt, [named_table, public]),
    process_flag(trap_exit, true),
    {ok, Sup} = supervisor:start_link(?MODULE, 3),
    [{c, _, _, _}, {b, _, _, _}, {a, A, _, _}] = supervisor:which_children(Sup),
    log("--- killing a", []),
    A ! die,
    receive {'EXIT', Sup, R} -> log("supervisor gave up: ~p", [R]) after 5000 -> log("sup alive", []) end,
    halt().
