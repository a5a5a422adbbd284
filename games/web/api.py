"""The JSON API for bots and tools: create a game (against a person or the computer), take its free
seat, read its state and its event log. Every answer is JSON, errors included; docs/protocol.md
is the contract."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from games.core.clock import BadTimeControl
from games.core.engines import ENGINES
from games.core.identity import token_matches
from games.core.match import snapshot
from games.core.rules import RULES, IllegalMove
from games.live import computer, registry
from games.live.game import UnknownGame, now_ms
from games.storage import journal, store
from games.web import idempotency, limits
from games.web.common import (
    REPLAYED,
    api_error,
    computer_choice,
    creating_call,
    game_urls,
    key_reused,
    made_with_key,
    rate_limited,
    refused,
    seat_choice,
    time_control_of,
)


@creating_call("games")
async def api_create(request, body: dict, call: idempotency.Keyed | None):
    kind = body.get("kind", "connect4")
    if kind not in RULES:
        return api_error(400, "bad_field", f"'kind' must be one of: {', '.join(RULES)}.")
    try:
        control = time_control_of(body.get("time_control"))
    except BadTimeControl as refusal:
        return api_error(400, "bad_field", str(refusal))
    opponent = body.get("opponent", "person")
    if opponent not in ("person", "computer"):
        return api_error(400, "bad_field", '\'opponent\' must be "person" or "computer".')
    public = body.get("public", False)
    if not isinstance(public, bool):
        return api_error(400, "bad_field", "'public' must be true or false.")
    if opponent == "computer":
        try:
            level, seat = computer_choice(body.get("level", 1), body.get("seat"))
        except ValueError as refusal:
            return api_error(400, "bad_field", str(refusal))
    else:
        try:
            seat = seat_choice(body.get("seat"), default=1)
        except ValueError as refusal:
            return api_error(400, "bad_field", str(refusal))
    if call is not None and (made := await idempotency.made_before(call)) is not None:
        return await _replayed_game(request, call, made)
    if wait := await refused(request, limits.CREATE):
        return rate_limited(limits.CREATE, wait)
    keyed = made_with_key(call)
    try:
        if opponent == "computer":
            game_id, token = await computer.create_game(kind, control, seat, level, public, **keyed)
        else:
            game_id, token = await registry.create_game(kind, control, public, seat, **keyed)
    except store.AlreadyMade as made:  # the same call, sent twice at once: the other one made it
        return await _replayed_game(request, call, made)
    level = level if opponent == "computer" else None
    return JsonResponse(_created_game(request, game_id, seat, token, kind, level), status=201)


def _created_game(request: HttpRequest, game_id: str, seat: int, token: str, kind: str, level: int | None = None):
    """The answer to a create: the game, the creator's seat and token, the computer if it plays."""
    answer = {"id": game_id, "seat": seat, "token": token}
    if level is not None:
        answer["computer"] = {"seat": 3 - seat, "level": level, "name": ENGINES[kind].levels[level]}
    return {**answer, **game_urls(request, game_id)}


async def _replayed_game(request: HttpRequest, call: idempotency.Keyed, made: store.AlreadyMade) -> JsonResponse:
    """A create sent again with its key: the game the first call made, as it answered then."""
    if not idempotency.same_request(call, made):
        return key_reused()
    seats = await journal.read(store.seats_of, made.resource)
    if seats is None:  # made, then deleted (an operator's purge)
        return api_error(404, "unknown_game", "No game has that ID.")
    kind, hash1, level = seats
    seat = 1 if token_matches(call.token, hash1) else 2
    response = JsonResponse(_created_game(request, made.resource, seat, call.token, kind, level), status=201)
    response[REPLAYED] = "true"
    return response


@csrf_exempt
@require_POST
async def api_join(request, game_id):
    try:
        call = idempotency.keyed(request, f"join {game_id}", {})
    except idempotency.BadKey as refusal:
        return api_error(400, "bad_idempotency_key", str(refusal))
    if wait := await refused(request, limits.JOIN):
        return rate_limited(limits.JOIN, wait)
    try:
        # With a key the seat token is the key's, so a retry finds the seat the first attempt took.
        seat, token, event = await registry.join(game_id, call.token if call else None)
    except UnknownGame:
        return api_error(404, "unknown_game", "No game has that ID.")
    except IllegalMove as refusal:
        return api_error(409, refusal.code, refusal.message)
    return JsonResponse(
        {"id": game_id, "seat": seat, "token": token, "seq": event["seq"], **game_urls(request, game_id)}
    )


async def _read(game_id):
    return await journal.read(store.read_game, game_id)


@require_GET
async def api_game(request, game_id):
    read = await _read(game_id)
    if read is None:
        return api_error(404, "unknown_game", "No game has that ID.")
    game, match, history = read
    return JsonResponse(
        {
            "id": game.id,
            **snapshot(match, history, now_ms()),
            "created_at": game.created_at.isoformat(),
            "finished_at": game.finished_at.isoformat() if game.finished_at else None,
            **game_urls(request, game.id),
        }
    )


@require_GET
async def api_events(request, game_id):
    after = request.GET.get("after", "0")
    if not after.isdigit():
        return api_error(400, "bad_field", "'after' must be a whole number of at least 0.")
    read = await _read(game_id)
    if read is None:
        return api_error(404, "unknown_game", "No game has that ID.")
    game, match, history = read
    return JsonResponse({"id": game.id, "seq": match.seq, "events": history[int(after) :]})
