"""Clocks in the match layer: charging, increments, first-move limits, the deadline's edges,
time given back after an outage, and replay giving the same clocks every time."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from games.core.clock import PRESETS, BadTimeControl, TimeControl, parse_time_control
from games.core.match import (
    FIRST_MOVE,
    Event,
    TimeUp,
    apply_event,
    created_data,
    decide_flag,
    decide_give_back,
    decide_join,
    decide_move,
    new_match,
    public_event,
    replay,
)
from games.core.rules import IllegalMove

CONTROL = TimeControl(initial_ms=60_000, increment_ms=2_000, first_move_ms=30_000)
T0 = 1_800_000_000_000  # an arbitrary moment, in ms since the epoch


def started(control=CONTROL, at=T0):
    """A timed game with both seats taken at ``at``; returns the match and its log."""
    match = new_match("connect4")
    log = [Event(seq=1, kind="created", seat=1, data=created_data(control))]
    match = apply_event(match, log[0])
    log.append(decide_join(match, at))
    return apply_event(match, log[-1]), log


def play(match, log, seat, column, at):
    event = decide_move(match, seat, {"column": column}, at)
    log.append(event)
    return apply_event(match, event)


def test_presets_parse_and_anything_else_is_refused():
    assert parse_time_control(None, 30) is None
    assert parse_time_control("untimed", 30) is None
    control = parse_time_control("3+2", 30)
    assert (control.initial_ms, control.increment_ms, control.first_move_ms, control.name) == (
        180_000,
        2_000,
        30_000,
        "3+2",
    )
    assert {parse_time_control(name, 30).name for name in PRESETS} == set(PRESETS)
    for bad in ("2+1", "3+2 ", 5, ["3+2"]):
        with pytest.raises(BadTimeControl):
            parse_time_control(bad, 30)


def test_an_untimed_game_has_no_clock_and_its_events_none():
    match = apply_event(new_match("connect4"), Event(seq=1, kind="created", seat=1))
    joined = decide_join(match, T0)
    assert joined.data == {}
    match = apply_event(match, joined)
    assert match.clock is None and match.deadline_ms is None
    assert "at" not in decide_move(match, 1, {"column": 3}, T0).data
    with pytest.raises(IllegalMove) as refused:
        decide_flag(match, T0 + 10**9)
    assert refused.value.code == "untimed"


def test_first_moves_have_their_own_limit_cost_nothing_and_earn_nothing():
    match, log = started()
    assert match.deadline_ms == T0 + 30_000 and match.clock.first_move
    match = play(match, log, 1, 3, T0 + 25_000)  # red's first move, late in its limit
    assert match.clock.remaining == (60_000, 60_000)
    assert match.deadline_ms == T0 + 25_000 + 30_000 and match.clock.first_move  # yellow's first-move limit
    match = play(match, log, 2, 3, T0 + 40_000)
    assert match.clock.remaining == (60_000, 60_000) and not match.clock.first_move
    assert match.deadline_ms == T0 + 40_000 + 60_000  # red's main clock runs from yellow's move


def test_time_used_is_charged_and_the_increment_added_after_the_move():
    match, log = started()
    match = play(match, log, 1, 3, T0 + 1_000)
    match = play(match, log, 2, 3, T0 + 2_000)
    match = play(match, log, 1, 4, T0 + 2_000 + 7_500)  # red thought 7.5 s
    assert match.clock.remaining == (60_000 - 7_500 + 2_000, 60_000)
    assert log[-1].data["clocks"] == [54_500, 60_000] and log[-1].data["at"] == T0 + 9_500
    assert match.deadline_ms == T0 + 9_500 + 60_000


def test_a_move_one_millisecond_before_the_deadline_counts_and_one_at_it_loses_on_time():
    match, log = started()
    match = play(match, log, 1, 3, T0 + 1_000)
    match = play(match, log, 2, 3, T0 + 2_000)
    deadline = match.deadline_ms
    just_in = decide_move(match, 1, {"column": 0}, deadline - 1)
    assert just_in.data["clocks"][0] == 1 + CONTROL.increment_ms
    with pytest.raises(TimeUp):
        decide_move(match, 1, {"column": 0}, deadline)
    with pytest.raises(IllegalMove) as early:
        decide_flag(match, deadline - 1)
    assert early.value.code == "time_left"
    flag = decide_flag(match, deadline)
    assert (flag.kind, flag.seat) == ("timeout", 1)
    over = apply_event(match, flag)
    assert (over.status, over.result, over.winner) == ("finished", "timeout", 2)
    assert over.clock.remaining == (0, 60_000) and over.deadline_ms is None
    assert public_event(flag, over)["clock"]["running"] is None


def test_a_missed_first_move_calls_the_game_off_without_a_result():
    match, _ = started()
    event = decide_flag(match, T0 + 30_000)
    assert (event.kind, event.data["code"]) == ("aborted", FIRST_MOVE)
    over = apply_event(match, event)
    assert (over.status, over.result, over.winner) == ("aborted", "aborted", None)


def test_an_outage_is_given_back_once_and_only_for_the_time_the_clock_ran():
    match, log = started()
    match = play(match, log, 1, 3, T0 + 1_000)
    match = play(match, log, 2, 3, T0 + 2_000)  # red's clock runs from T0 + 2 s, 60 s left
    # No server from T0 + 50 s to T0 + 58 s: red gets those 8 s back.
    credit = decide_give_back(match, T0 + 50_000, T0 + 58_000)
    assert credit.data["given_back_ms"] == {"1": 8_000, "2": 0}
    match = apply_event(match, credit)
    assert match.deadline_ms == T0 + 2_000 + 60_000 + 8_000
    with pytest.raises(IllegalMove) as twice:
        decide_give_back(match, T0 + 50_000, T0 + 59_000)
    assert twice.value.code == "already_given_back"
    # An outage that began before the clock started gives back only the part after it.
    fresh, _ = started()
    partial = decide_give_back(fresh, T0 - 5_000, T0 + 3_000)
    assert partial.data["given_back_ms"]["1"] == 3_000
    with pytest.raises(IllegalMove) as none:
        decide_give_back(fresh, T0 - 9_000, T0 - 1_000)
    assert none.value.code == "nothing_to_give_back"
    # The move after the outage is charged its real thinking time, less the outage.
    match = play(match, log, 1, 4, T0 + 60_000)
    assert match.clock.remaining[0] == 60_000 - 58_000 + 8_000 + CONTROL.increment_ms


def test_each_event_shows_the_clocks_as_at_its_own_moment():
    match, log = started()
    joined = public_event(log[-1], match)["clock"]
    assert joined == {
        "time_control": "1+2",
        "initial_ms": 60_000,
        "increment_ms": 2_000,
        "remaining": {"1": 60_000, "2": 60_000},
        "running": 1,
        "first_move_in": 30_000,
    }
    match = play(match, log, 1, 3, T0 + 1_000)
    match = play(match, log, 2, 3, T0 + 2_000)
    credit = decide_give_back(match, T0 + 10_000, T0 + 12_000)
    shown = public_event(credit, apply_event(match, credit))["clock"]
    assert shown["remaining"] == {"1": 60_000 - 10_000 + 2_000, "2": 60_000}  # as at the restart


@given(
    thinking=st.lists(st.integers(min_value=0, max_value=20_000), min_size=2, max_size=20),
    control=st.sampled_from([TimeControl(60_000, 0, 30_000), TimeControl(180_000, 2_000, 30_000)]),
)
def test_replaying_the_log_always_gives_the_same_clocks(thinking, control):
    match, log = started(control)
    at = T0
    for i, pause in enumerate(thinking):
        at += pause
        seat = match.turn
        if seat is None or match.clock.expired(at):
            break
        column = i % 7 if i % 7 != 3 else 6
        try:
            match = play(match, log, seat, column, at)
        except IllegalMove:  # a full column: the rules refuse, the clock is untouched
            break
    again = replay("connect4", log)
    assert again == match
    total_used = sum(control.initial_ms - left for left in again.clock.remaining)
    moves = sum(1 for event in log if event.kind == "move")
    assert total_used <= at - T0  # nobody is charged more time than passed
    assert all(left > -1 for left in again.clock.remaining)
    assert moves == 0 or again.clock.remaining[0] <= control.initial_ms + control.increment_ms * moves
