"""The database fails at one step of an action: what the players see, and that they lose nothing.

Each test makes one store function raise OperationalError once, as the journal thread runs
it (for a commit: after it committed, so its outcome is unknown to the server), and plays
on through the real ASGI application and database. Whatever the step, the sender hears
``unavailable`` (or nothing at all, where the action had already succeeded), the socket
goes on, a resent move lands once, memory matches the log, and a player who leaves can be
claimed by the opponent once the (shortened) grace period has passed.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection
from django.utils import timezone

from games.core.match import replay_with_history
from games.live import healing, liveness, registry, seeking
from games.models import Connection, Server
from games.storage import journal, store
from tests.test_consumers import play_moves, seated_game
from tests.test_resilience import presence_when, seat_two_gone

pytestmark = pytest.mark.django_db(transaction=True)


def fail(monkeypatch, name: str, times: int = 1, after_running: bool = False) -> asyncio.Event:
    """The next ``times`` calls of ``store.<name>`` raise OperationalError (after doing their work, if
    ``after_running``). The event is set once the last of them has raised: the database is back."""
    real, calls, back = getattr(store, name), [], asyncio.Event()
    loop = asyncio.get_running_loop()

    def failing(*args, **kwargs):  # on the journal thread
        calls.append(name)
        if len(calls) > times:
            return real(*args, **kwargs)
        if after_running:
            real(*args, **kwargs)
        if len(calls) == times:
            loop.call_soon_threadsafe(back.set)
        raise OperationalError(f"{name}: the database went away (injected)")

    monkeypatch.setattr(store, name, failing)
    return back


async def unavailable(socket) -> dict:
    error = await socket.receive_type("error")
    assert error["code"] == "unavailable" and "try again" in error["message"]
    return error


async def yellow_replies(yellow, *everyone) -> None:
    """The next move after the fault: acknowledged once, seen once by everyone."""
    await yellow.send(type="move", column=4, move_id="yellow-1")
    ack = await yellow.receive_type("ack")
    assert (ack["seq"], ack["duplicate"]) == (4, False)
    for socket in (yellow, *everyone):
        assert (await socket.receive_type("move"))["move_id"] == "yellow-1"


async def messages_until(socket, *types) -> list[dict]:
    """Everything but presence until one of each of ``types`` has arrived (in whatever order)."""
    seen = []
    while not set(types) <= {message["type"] for message in seen}:
        if (message := await socket.receive(timeout=5))["type"] != "presence":
            seen.append(message)
    return seen


@database_sync_to_async
def stored_log(game_id):
    return store.load_game(game_id, timezone.now())


async def memory_matches_the_log(game_id: str) -> None:
    """The cache is the replay of the log, and no move ID is in the log twice."""
    stored = await stored_log(game_id)
    match, history = replay_with_history(stored.kind, stored.events)
    live = await registry.get(game_id)
    assert (live.match, live.history) == (match, history)
    move_ids = [event.data["move_id"] for event in stored.events if "move_id" in event.data]
    assert len(move_ids) == len(set(move_ids))


async def yellow_leaves_and_red_claims(game_id, red, yellow) -> None:
    count = registry.connection_count(game_id)
    await yellow.close()
    assert registry.connection_count(game_id) == count - 1  # forgotten at once
    await presence_when(red, seat_two_gone)
    await red.send(type="claim_win")
    assert (await red.receive_type("abandoned"))["winner"] == 1
    await memory_matches_the_log(game_id)


# ----- One scenario per step ------------------------------------------------------------


async def loading_the_game(sockets, monkeypatch):
    """Nobody here holds the game, so a socket loads it: the socket is turned away with 4503 and
    counts nowhere; reconnecting works."""
    game_id, red, yellow, watcher, token1, token2 = await seated_game(sockets)
    for socket in (red, yellow, watcher):
        await socket.close()
    assert game_id not in [live.id for live in registry.live_games()]
    fail(monkeypatch, "load_game")
    turned_away = await sockets(game_id)
    closed = await turned_away.communicator.receive_output()
    assert closed == {"type": "websocket.close", "code": 4503, "reason": "database unavailable"}
    assert registry.connection_count(game_id) == 0
    red, yellow, watcher = await sockets(game_id), await sockets(game_id), await sockets(game_id)
    assert (await red.hello(token=token1, last_seq=2))["seat"] == 1
    assert (await yellow.hello(token=token2, last_seq=2))["seat"] == 2
    await watcher.hello()
    await play_moves([3, 3], red, yellow, watcher)
    return game_id, red, yellow


async def appending_the_move(sockets, monkeypatch):
    """Nothing was committed: nobody else hears of the move; the resent move lands once."""
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    fail(monkeypatch, "append_many")
    await red.send(type="move", column=3, move_id="red-1")
    assert (await unavailable(red))["seq"] == 2
    assert await yellow.nothing_more() and await watcher.nothing_more()
    await red.send(type="move", column=3, move_id="red-1")
    assert await red.receive_type("ack") == {"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": False}
    for socket in (red, yellow, watcher):
        assert (await socket.receive_type("move"))["move_id"] == "red-1"
    await yellow_replies(yellow, red, watcher)
    return game_id, red, yellow


async def committing_the_move(sockets, monkeypatch):
    """Committed, but the answer was lost: the resend is acknowledged as a duplicate, and every
    socket gets the move once (the mover after its ack, the others from the next sweep's heal)."""
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    fail(monkeypatch, "append_many", after_running=True)
    await red.send(type="move", column=3, move_id="red-1")
    await unavailable(red)
    await red.send(type="move", column=3, move_id="red-1")
    seen = await messages_until(red, "ack", "move")
    acks, moves = [m for m in seen if m["type"] == "ack"], [m for m in seen if m["type"] == "move"]
    assert acks == [{"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": True}]
    assert [(m["seq"], m["move_id"]) for m in moves] == [(3, "red-1")]
    for socket in (yellow, watcher):
        assert (await socket.receive_type("move", timeout=5))["move_id"] == "red-1"
    await yellow_replies(yellow, red, watcher)
    for socket in (red, yellow, watcher):
        assert await socket.nothing_more()  # nobody got the move twice
    return game_id, red, yellow


async def counting_when_play_starts(sockets, monkeypatch):
    """The join itself succeeded, so its caller hears of no error; the count that marks the absent
    creator as away is taken by the sweeper, and the joiner can claim the win."""
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token1)
    watcher = await sockets(game_id)
    await watcher.hello()
    await red.close()  # the creator leaves before anyone joins
    fail(monkeypatch, "recount")
    seat, token2, event = await registry.join(game_id)  # as the API's join does
    assert (seat, event["type"], event["status"]) == (2, "joined", "playing")
    await watcher.receive_type("joined")
    presence = await presence_when(watcher, lambda p: p["away"]["1"] is not None)
    assert presence["players"] == {"1": False, "2": False}
    yellow = await sockets(game_id)
    await yellow.hello(token=token2)
    await yellow.send(type="claim_win")
    assert (await yellow.receive_type("abandoned"))["winner"] == 2
    await memory_matches_the_log(game_id)
    return None


async def greeting(sockets, monkeypatch):
    """A returning player's hello is refused with unavailable; sent again, it is welcomed and seen."""
    game_id, red, yellow, watcher, token1, _ = await seated_game(sockets)
    await red.close()
    await presence_when(yellow, lambda p: not p["players"]["1"])
    fail(monkeypatch, "connect")
    red = await sockets(game_id)
    await red.send(type="hello", token=token1, last_seq=2)
    await unavailable(red)
    welcome = await red.hello(token=token1, last_seq=2)
    assert (welcome["seat"], welcome["presence"]["players"]["1"]) == (1, True)
    await presence_when(yellow, lambda p: p["players"]["1"])
    await play_moves([3, 3], red, yellow, watcher)
    return game_id, red, yellow


async def creator_and_two_watchers(sockets):
    """A new game: its creator greeted in seat 1, and two spectators, the first of whom will join."""
    game_id, token1 = await registry.create_game()
    red = await sockets(game_id)
    await red.hello(token=token1)
    yellow, watcher = await sockets(game_id), await sockets(game_id)
    await yellow.hello()
    await watcher.hello()
    return game_id, red, yellow, watcher


async def seating_the_joiner(sockets, monkeypatch):
    """The seat is taken, so its token reaches the joiner with no error; the sweeper records the
    connection, and the creator sees the joiner arrive."""
    game_id, red, yellow, watcher = await creator_and_two_watchers(sockets)
    fail(monkeypatch, "connect")
    await yellow.send(type="join")
    assert (await yellow.receive_type("seated"))["seat"] == 2
    for socket in (red, yellow, watcher):
        await socket.receive_type("joined")
    await presence_when(red, lambda p: p["players"]["2"])
    await play_moves([3, 3], red, yellow, watcher)
    return game_id, red, yellow


async def joining(sockets, monkeypatch):
    """A join whose commit went through unseen: sent again, it finds its seat instead of being refused."""
    game_id, red, yellow, watcher = await creator_and_two_watchers(sockets)
    fail(monkeypatch, "append_many", after_running=True)
    await yellow.send(type="join")
    await unavailable(yellow)
    await yellow.send(type="join")
    seated = await yellow.receive_type("seated")
    assert (seated["seat"], seated["seq"]) == (2, 2)
    for socket in (red, yellow, watcher):
        await socket.receive_type("joined", timeout=5)
    reopened = await sockets(game_id)
    assert (await reopened.hello(token=seated["token"]))["seat"] == 2  # the token is the seat's
    await reopened.close()
    await play_moves([3, 3], red, yellow, watcher)
    return game_id, red, yellow


async def departing(sockets, monkeypatch):
    """Leaving while the database is down: memory forgets the socket at once, the sweeper records
    the departure once the database answers, and the opponent can claim."""
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await play_moves([3, 3], red, yellow, watcher)
    fail(monkeypatch, "disconnect")
    return game_id, red, yellow  # yellow leaves below, and its departure meets the error


STEPS = {
    "loading the game": loading_the_game,
    "appending a move": appending_the_move,
    "committing a move": committing_the_move,
    "counting when play starts": counting_when_play_starts,
    "greeting": greeting,
    "seating the joiner": seating_the_joiner,
    "committing a join": joining,
    "departing": departing,
}


@pytest.mark.parametrize("step", STEPS)
async def test_a_database_error_at_one_step_loses_nothing(step, sockets, settings, monkeypatch):
    settings.GAME_CLAIM_AFTER_SECONDS = 0
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    played = await STEPS[step](sockets, monkeypatch)
    if played is not None:
        await yellow_leaves_and_red_claims(*played)


async def test_a_departure_is_recorded_as_of_when_it_happened(sockets, settings, monkeypatch):
    """The grace period runs from the moment the player left, not from when the database came back."""
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, red, yellow, *_ = await seated_game(sockets)
    back = fail(monkeypatch, "disconnect", times=5)  # the departure, then four sweeps
    left = timezone.now()
    await yellow.close()
    await back.wait()
    back_at = timezone.now()
    await presence_when(red, seat_two_gone)
    away_since = (await registry.get(game_id)).presence_state.away_since[2]
    assert left <= away_since < back_at


async def test_a_move_committed_unseen_reaches_the_mover_on_its_resend_and_the_others_at_the_heal(
    sockets, settings, monkeypatch
):
    settings.GAME_SWEEP_INTERVAL_SECONDS = 3600  # no sweep but the heal this test runs itself
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    fail(monkeypatch, "append_many", after_running=True)
    await red.send(type="move", column=3, move_id="red-1")
    await unavailable(red)
    await red.send(type="move", column=3, move_id="red-1")
    assert await red.receive_type("ack") == {"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": True}
    assert (await red.receive_type("move"))["move_id"] == "red-1"
    assert await yellow.nothing_more() and await watcher.nothing_more()
    await healing.heal()
    for socket in (yellow, watcher):
        assert (await socket.receive_type("move"))["move_id"] == "red-1"
    assert await red.nothing_more()


@database_sync_to_async
def terminate_backend(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


async def test_a_connection_the_database_server_drops_costs_one_unavailable(sockets):
    """No injection: PostgreSQL ends the journal thread's connection. psycopg's error reaches the
    consumer as Django's, so the mover hears ``unavailable``; the journal opens a new connection
    and the resent move lands once."""
    if connection.vendor != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    await terminate_backend(await journal.run(lambda: connection.connection.info.backend_pid))
    await red.send(type="move", column=3, move_id="red-1")
    await unavailable(red)
    await red.send(type="move", column=3, move_id="red-1")
    assert await red.receive_type("ack") == {"type": "ack", "seq": 3, "move_id": "red-1", "duplicate": False}
    for socket in (red, yellow, watcher):
        assert (await socket.receive_type("move"))["move_id"] == "red-1"
    await memory_matches_the_log(game_id)


async def test_putting_connections_back_is_finished_at_the_next_beat_if_the_database_interrupts_it(
    sockets, settings, monkeypatch
):
    """Taken for dead while alive, this process writes its row and then its connections again; if
    the second write fails, the next heartbeat must not take the row alone for a recovery."""
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, red, yellow, watcher, *_ = await seated_game(sockets)
    assert await red.nothing_more()
    back = fail(monkeypatch, "restore_connections")
    await Server.objects.filter(pk=liveness.SERVER_ID).adelete()  # reaped by others: its connections go too
    await back.wait()
    presence = await red.receive_type("presence", timeout=5)  # counted again once they are back
    assert presence["players"] == {"1": True, "2": True} and presence["spectators"] == 1
    assert await Connection.objects.filter(game_id=game_id).acount() == 3


async def test_the_heartbeat_keeps_beating_while_a_sweep_waits_on_the_database(sockets, settings, monkeypatch):
    """A sweep stuck behind the sockets' database work (a burst of greetings) must not stop this
    process saying it is alive, or the others reap it mid-burst and delete its connections."""
    settings.GAME_SWEEP_INTERVAL_SECONDS = 0.05
    game_id, *_ = await seated_game(sockets)  # greeted: this process has its row and its sweeper
    stuck, released = asyncio.Event(), asyncio.Event()

    async def slow_sweep():
        stuck.set()
        await released.wait()

    monkeypatch.setattr(seeking, "sweep", slow_sweep)
    try:
        await asyncio.wait_for(stuck.wait(), timeout=5)
        before = (await Server.objects.aget(pk=liveness.SERVER_ID)).seen_at
        await asyncio.sleep(settings.GAME_SWEEP_INTERVAL_SECONDS * 10)  # ten beats' worth, the sweep still stuck
        after = (await Server.objects.aget(pk=liveness.SERVER_ID)).seen_at
        assert after > before
        assert await Connection.objects.filter(game_id=game_id).acount() == 3
    finally:
        released.set()


@database_sync_to_async
def end_every_other_connection() -> int:
    """What an operator's ``pg_terminate_backend`` over the database does: every connection but this one ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


async def test_api_reads_answer_as_usual_after_the_database_server_ends_their_connections(async_client):
    """The journal's lasting connection and the pool's are ended under them: the next reads find
    fresh ones (a read is made again once on a fresh connection; the pool checks before handing
    one out), so every answer is a 200 with the game, none an error."""
    if connection.vendor != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    game_id = (await async_client.post("/api/games")).json()["id"]
    seek = await async_client.post("/api/seeks", {}, content_type="application/json")
    for _ in range(2):  # every connection the reads use is open, then ended
        assert (await async_client.get(f"/api/games/{game_id}")).status_code == 200
        assert await end_every_other_connection() >= 1
        answers = await asyncio.gather(
            *(async_client.get(f"/api/games/{game_id}") for _ in range(16)),
            *(async_client.get(f"/api/seeks/{seek.json()['id']}") for _ in range(4)),
            async_client.get("/api/lobby"),
        )
        assert [answer.status_code for answer in answers] == [200] * len(answers)
        assert all(answer.json().get("id") in (game_id, seek.json()["id"], None) for answer in answers)
