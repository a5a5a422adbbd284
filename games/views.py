"""Pages for people and a JSON API for bots. A GET never claims a seat.

Browsers keep their seat tokens in the session, keyed by game ID, and the game
page hands the token to its own script; bots get theirs in the API response.
"""

import json
import secrets

import segno
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from games import computer, idempotency, journal, limits, lobby, readiness, registry, store
from games.clock import BadTimeControl, TimeControl, parse_time_control
from games.engines import ENGINES
from games.identity import is_game_id, normalize_game_id, token_matches
from games.live_game import UnknownGame, now_ms
from games.match import snapshot
from games.models import Game, Seek
from games.rules import RULES, IllegalMove

SESSION_SEATS = "seats"
MAX_SEATS_IN_SESSION = 50


async def _remember_seat(request: HttpRequest, game_id: str, token: str) -> None:
    seats = dict(await request.session.aget(SESSION_SEATS, {}))
    seats.pop(game_id, None)
    seats[game_id] = token
    while len(seats) > MAX_SEATS_IN_SESSION:  # oldest first: dicts keep insertion order
        seats.pop(next(iter(seats)))
    await request.session.aset(SESSION_SEATS, seats)


async def _seat_in_session(request: HttpRequest, game: Game) -> tuple[int | None, str]:
    """The seat this browser holds, if any. A rematch keeps the players' tokens, seats swapped."""
    seats = await request.session.aget(SESSION_SEATS, {})
    for game_id in (game.id, game.rematch_of_id):
        token = seats.get(game_id, "") if game_id else ""
        for seat in (1, 2):
            if token_matches(token, game.token_hash(seat)):
                if game_id != game.id:
                    await _remember_seat(request, game.id, token)
                return seat, token
    return None, ""


def _websocket_url(request: HttpRequest, path: str) -> str:
    return f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}{path}"


def _urls(request: HttpRequest, game_id: str) -> dict:
    return {
        "page": request.build_absolute_uri(reverse("game", args=[game_id])),
        "websocket": _websocket_url(request, f"/ws/games/{game_id}/"),
    }


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class BadBody(Exception):
    """An API request body the server will not read: answered with its status and code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def api_body(request: HttpRequest) -> dict:
    """The API's request body as a JSON object; no body at all means every default.

    A body is read only when it is labelled ``application/json``: anything else sent (a form,
    or JSON from ``curl -d`` without the header) is refused rather than silently ignored.
    """
    if not request.body:
        return {}
    if request.content_type in FORM_TYPES and not request.POST and not request.FILES:
        return {}  # an empty form, as some clients send for a bare POST
    if request.content_type != "application/json":
        raise BadBody(
            415,
            "unsupported_media_type",
            "Send the body as JSON with the header 'Content-Type: application/json'.",
        )
    try:
        body = json.loads(request.body)
    except ValueError:
        raise BadBody(400, "bad_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadBody(400, "bad_json", "The request body must be a JSON object.")
    return body


def _bad_body(refusal: BadBody) -> JsonResponse:
    return _api_error(refusal.status, refusal.code, refusal.message)


async def _game_or_404(game_id: str) -> Game:
    game = await Game.objects.filter(pk=game_id).afirst()
    if game is None:
        raise Http404("No game with that code.")
    return game


def _qr_svg(url: str) -> str:
    """The invite link as an inline SVG QR code, for a friend's phone in the same room."""
    code = segno.make(url, error="m", micro=False)
    return mark_safe(code.svg_inline(scale=4, border=2, omitsize=True, title="QR code of the invite link"))


def _api_error(status: int, code: str, message: str, **details) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **details}, status=status)


def _slow_down(action: str, seconds: int) -> str:
    what = {limits.CREATE: "new games", limits.JOIN: "joins", limits.SEEK: "searches for an opponent"}[action]
    return f"Too many {what} from your address; try again in {seconds} seconds."


async def _refused(request: HttpRequest, action: str) -> int | None:
    """Count ``action`` against the client's address: None if allowed, else seconds to wait."""
    return await limits.retry_after(action, limits.request_address(request))


async def _home_refused(request: HttpRequest, action: str, seconds: int):
    """The home page, 429, saying in words when to try ``action`` again."""
    response = await _home(request, {"notice": _slow_down(action, seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _rate_limited(action: str, seconds: int) -> JsonResponse:
    response = _api_error(429, "rate_limited", _slow_down(action, seconds))
    response["Retry-After"] = str(seconds)
    return response


# ----- Pages ------------------------------------------------------------------


def _time_control(name) -> TimeControl | None:
    """The chosen preset (None: untimed), with the first move's limit as configured."""
    return parse_time_control(name, settings.GAME_FIRST_MOVE_SECONDS, settings.GAME_EXTRA_TIME_CONTROLS)


# The time control the home page's three forms (Play now, Play the computer, Start a game) start
# with: one for all, a short game with an increment, so nobody waits on a stalled opponent for
# ever. The API's default (untimed, when a client sends none) is its own and unchanged.
HOME_TIME_CONTROL = "3+2"
# The computer's level the pages offer first (the home page's card, the seek page's offer): a
# middling opponent. The API's default stays level 1, as documented for bots.
SUGGESTED_LEVEL = 3


async def _home(request: HttpRequest, context: dict | None = None, status: int = 200):
    """The home page, with the lobby's lists as they stand (its script keeps them live)."""
    try:
        lists = await lobby.current()
    except store.DATABASE_ERRORS:
        lists = {"challenges": [], "games": [], "seekers": {}}
    levels = list(ENGINES["connect4"].levels.items())
    context = {
        "lists": lists,
        "computer_levels": levels,
        "suggested_level": SUGGESTED_LEVEL,
        "default_time_control": HOME_TIME_CONTROL,
        **(context or {}),
    }
    return render(request, "games/home.html", context, status=status)


@require_GET
async def home(request):
    return await _home(request)


@require_POST
async def create(request):
    """The New game button: whoever pressed it gets the colour they chose (Red without a choice)."""
    if wait := await _refused(request, limits.CREATE):
        return await _home_refused(request, limits.CREATE, wait)
    try:
        control = _time_control(request.POST.get("time_control"))
        seat = _seat_choice(_form_number(request.POST.get("seat") or None), default=1)
    except (BadTimeControl, ValueError) as refusal:
        return await _home(request, {"notice": str(refusal)}, status=400)
    public = request.POST.get("public") in ("on", "1", "true")
    game_id, token = await registry.create_game(control=control, public=public, seat=seat)
    await _remember_seat(request, game_id, token)
    return redirect("game", game_id=game_id)


LEVEL_CHOICES = "'level' must be a whole number from 1 to 5."
SEAT_CHOICES = "'seat' must be 1 (Red, moves first), 2 (Yellow) or \"random\"."


def _computer_level(level) -> int:
    """The computer's level (1 to 5) as a JSON number; ValueError saying what is allowed."""
    if not isinstance(level, int) or isinstance(level, bool) or level not in ENGINES["connect4"].levels:
        raise ValueError(LEVEL_CHOICES)
    return level


def _seat_choice(seat, default: int | None = None) -> int:
    """The seat a player chose (1, 2, or drawn for "random"), as JSON (the API is strict about
    types; forms convert first); missing, ``default`` (None: drawn). ValueError saying what is allowed."""
    if seat is None and default is not None:
        return default
    if seat in (None, "random"):
        return secrets.choice((1, 2))
    if seat not in (1, 2) or isinstance(seat, bool):
        raise ValueError(SEAT_CHOICES)
    return seat


def _computer_choice(level, seat) -> tuple[int, int]:
    """The level (1 to 5) and the person's seat (1, 2, or drawn for "random"/missing), as JSON
    numbers; ValueError with a message that says what is allowed."""
    return _computer_level(level), _seat_choice(seat)


def _form_number(value: str | None):
    """A form's digits as a number, anything else as it came (so the check names it). Only ASCII
    digits count: int() would also read other scripts' digits."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


@require_POST
async def play_computer(request):
    """Play the computer: the chosen level, colour and time control; the game starts at once, on
    the lobby's watch list unless the person unticked "public" (the form ticks it)."""
    if wait := await _refused(request, limits.CREATE):
        return await _home_refused(request, limits.CREATE, wait)
    try:
        control = _time_control(request.POST.get("time_control"))
        level = _form_number(request.POST.get("level"))
        level, seat = _computer_choice(level, _form_number(request.POST.get("seat") or None))
    except (BadTimeControl, ValueError) as refusal:
        return await _home(request, {"computer_notice": str(refusal)}, status=400)
    public = request.POST.get("public") in ("on", "1", "true")
    game_id, token = await computer.create_game(control=control, human_seat=seat, level=level, public=public)
    await _remember_seat(request, game_id, token)
    return redirect("game", game_id=game_id)


@require_http_methods(["GET", "POST"])
async def find(request):
    """Join by typing a code: forgiving about case, dashes, and pasted links. The home page's form
    POSTs, so the free seat is taken at once; a GET (an old bookmark) only opens the game page."""
    typed = (request.POST if request.method == "POST" else request.GET).get("code", "")
    game_id = normalize_game_id(typed)
    game = await Game.objects.filter(pk=game_id).afirst() if is_game_id(game_id) else None
    if game is None:
        error = f"There is no game with the code “{typed.strip()[:40]}”. Check it and try again."
        context = {"error": error if typed.strip() else "Type the code of a game.", "code": typed[:40]}
        return await _home(request, context, status=404)
    if request.method == "GET":
        return redirect("game", game_id=game.id)
    return await _take_seat(request, game)


@never_cache
@require_GET
async def game_page(request, game_id):
    return await _render_game(request, await _game_or_404(game_id))


async def _render_game(request: HttpRequest, game: Game, status: int = 200, watching: bool = False):
    """The game page; ``watching``: the watch link's page, which never offers or restores a seat."""
    held, token = await _seat_in_session(request, game)
    seat, token = (None, "") if watching else (held, token)
    invite_url = request.build_absolute_uri(reverse("game", args=[game.id]))
    watch_url = request.build_absolute_uri(reverse("watch", args=[game.id]))
    context = {
        "game": game,
        "seat": seat,
        "watching": watching,
        "held_seat": held if watching else None,
        "can_join": not watching and seat is None and game.status == Game.Status.WAITING,
        # While it waits, the seat its creator left free (a join takes it), and the creator's.
        "free_colour": RULES[game.kind].seat_names[2 if game.seat1_token_hash else 1],
        "creator_colour": RULES[game.kind].seat_names[1 if game.seat1_token_hash else 2],
        "client": {
            "gameId": game.id,
            "seat": seat,
            "token": token,
            "socketPath": f"/ws/games/{game.id}/",
            "inviteUrl": invite_url,
            # With a presence message's claim_in, how long a seat has been away (its banner waits for a moment).
            "claimAfterSeconds": settings.GAME_CLAIM_AFTER_SECONDS,
            "watchUrl": watch_url,
            "watching": watching,
        },
        "invite_qr": _qr_svg(invite_url) if seat is not None and game.status == Game.Status.WAITING else "",
        "again": await _again(game, seat) if seat is not None else None,
    }
    return render(request, "games/game.html", context, status=status)


@never_cache
@require_GET
async def watch_page(request, game_id):
    """The watch link: the game as a spectator sees it, never offering a seat, even a free one."""
    return await _render_game(request, await _game_or_404(game_id), watching=True)


# What a visitor who asked for a seat is told when there is none to take.
NO_SEAT = {
    "seat_taken": "Both seats are taken, so you are watching.",
    "game_over": "This game is over, so you are watching how it ended.",
}


async def _take_seat(request: HttpRequest, game: Game):
    """Take the free seat for this browser's session (an explicit POST), then show the game; a
    visitor who already holds a seat keeps it, and one who finds no free seat watches, told why."""
    seat, _ = await _seat_in_session(request, game)
    if seat is None:
        if wait := await _refused(request, limits.JOIN):
            await sync_to_async(messages.warning)(request, _slow_down(limits.JOIN, wait))
            response = await _render_game(request, game, status=429)
            response["Retry-After"] = str(wait)
            return response
        try:
            seat, token, _ = await registry.join(game.id)
        except IllegalMove as refusal:
            await sync_to_async(messages.warning)(request, NO_SEAT.get(refusal.code, refusal.message))
        else:
            await _remember_seat(request, game.id, token)
    return redirect("game", game_id=game.id)


@require_POST
async def join_page(request, game_id):
    """The Join button: an explicit POST, so link previews never take the seat."""
    return await _take_seat(request, await _game_or_404(game_id))


# ----- Play again ---------------------------------------------------------------

COMPUTER, PLAY_NOW, FRIEND = "computer", "play_now", "friend"
MAX_REMATCH_CHAIN = 100  # rematches followed back to the first game, looking for its seek


async def _paired_by_play_now(game: Game) -> bool:
    """Whether Play now paired this game's players (it, or the first game its rematches go back to)."""
    game_id = game.id
    for _ in range(MAX_REMATCH_CHAIN):
        if await Seek.objects.filter(game_id=game_id).aexists():
            return True
        game_id = await Game.objects.filter(pk=game_id).values_list("rematch_of_id", flat=True).afirst()
        if game_id is None:
            return False
    return False


async def _again(game: Game, seat: int) -> dict:
    """What Play again makes after ``game`` for the player in ``seat``: its kind, and a line that says so."""
    control = game.time_control or "untimed"
    if game.computer_seat is not None:
        name = ENGINES[game.kind].levels[game.computer_level]
        colour = RULES[game.kind].seat_names[3 - seat]
        text = f"The computer again: level {game.computer_level} ({name}), {control}, you play {colour}."
        return {"kind": COMPUTER, "text": text}
    if await _paired_by_play_now(game):
        return {"kind": PLAY_NOW, "text": f"Look for a new opponent, {control}."}
    colour = RULES[game.kind].seat_names[3 - seat]
    return {"kind": FRIEND, "text": f"A new game to invite a friend to, {control}, you play {colour}."}


async def _computer_again(request: HttpRequest, game: Game, seat: int):
    """Against the computer, Play again is the rematch (the same level and time control, colours
    swapped, spectators taken along); if there is one already, that is the game."""
    try:
        event = await registry.rematch(game.id, seat)
    except IllegalMove as refusal:
        if refusal.code != "rematch_exists":
            await sync_to_async(messages.warning)(request, refusal.message)
            return redirect("game", game_id=game.id)
        new_id = await Game.objects.filter(rematch_of_id=game.id).values_list("id", flat=True).afirst()
    else:
        new_id = event["game_id"]
    return redirect("game", game_id=new_id)


@require_POST
async def play_again(request, game_id):
    """Play again, for a player of a game that is over: the same kind of game, the same time
    control. The computer: the rematch. Play now: a new seek. A friend: a new game to invite to,
    the colours swapped."""
    game = await _game_or_404(game_id)
    seat, _ = await _seat_in_session(request, game)
    if seat is None or game.status not in (Game.Status.FINISHED, Game.Status.ABORTED):
        message = "Finish this game first." if seat else "Only its players can play this game again."
        await sync_to_async(messages.warning)(request, message)
        return redirect("game", game_id=game.id)
    again = await _again(game, seat)
    if again["kind"] == COMPUTER:
        return await _computer_again(request, game, seat)
    if again["kind"] == PLAY_NOW:
        from games import lobby_views  # it builds on this module's helpers

        if wait := await _refused(request, limits.SEEK):
            return await _home_refused(request, limits.SEEK, wait)
        return await lobby_views.start_seek(request, game.time_control)
    if wait := await _refused(request, limits.CREATE):
        return await _home_refused(request, limits.CREATE, wait)
    control, swapped = _time_control(game.time_control), 3 - seat  # colours swapped, as in a rematch
    new_id, token = await registry.create_game(game.kind, control, game.public, swapped)
    await _remember_seat(request, new_id, token)
    return redirect("game", game_id=new_id)


@require_GET
async def healthz(request):
    """Liveness: the process answers. Nothing else is checked, so a busy database never restarts it."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
async def readyz(request):
    """Readiness: the database and the channel layer both answer (503 with the reason if not)."""
    results = await readiness.checks()
    ready = all(result == "ok" for result in results.values())
    body = {"status": "ready" if ready else "unavailable", "checks": results}
    return JsonResponse(body, status=200 if ready else 503)


# ----- JSON API -----------------------------------------------------------------


@csrf_exempt  # no cookies are read or set: the token in the response is the only credential
@require_POST
async def api_create(request):
    try:
        body = api_body(request)
        call = idempotency.keyed(request, "games", body)
    except BadBody as refusal:
        return _bad_body(refusal)
    except idempotency.BadKey as refusal:
        return _api_error(400, "bad_idempotency_key", str(refusal))
    kind = body.get("kind", "connect4")
    if kind not in RULES:
        return _api_error(400, "bad_field", f"'kind' must be one of: {', '.join(RULES)}.")
    try:
        control = _time_control(body.get("time_control"))
    except BadTimeControl as refusal:
        return _api_error(400, "bad_field", str(refusal))
    opponent = body.get("opponent", "person")
    if opponent not in ("person", "computer"):
        return _api_error(400, "bad_field", '\'opponent\' must be "person" or "computer".')
    public = body.get("public", False)
    if not isinstance(public, bool):
        return _api_error(400, "bad_field", "'public' must be true or false.")
    if opponent == "computer":
        try:
            level, seat = _computer_choice(body.get("level", 1), body.get("seat"))
        except ValueError as refusal:
            return _api_error(400, "bad_field", str(refusal))
    else:
        try:
            seat = _seat_choice(body.get("seat"), default=1)
        except ValueError as refusal:
            return _api_error(400, "bad_field", str(refusal))
    if call is not None and (made := await idempotency.made_before(call)) is not None:
        return await _replayed_game(request, call, made)
    if wait := await _refused(request, limits.CREATE):
        return _rate_limited(limits.CREATE, wait)
    keyed = {"token": call.token, "request_key": call.record} if call else {}
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
    return {**answer, **_urls(request, game_id)}


async def _replayed_game(request: HttpRequest, call: idempotency.Keyed, made: store.AlreadyMade) -> JsonResponse:
    """A create sent again with its key: the game the first call made, as it answered then."""
    if not idempotency.same_request(call, made):
        return _key_reused()
    seats = await journal.read(store.seats_of, made.resource)
    if seats is None:  # made, then deleted (an operator's purge)
        return _api_error(404, "unknown_game", "No game has that ID.")
    kind, hash1, level = seats
    seat = 1 if token_matches(call.token, hash1) else 2
    response = JsonResponse(_created_game(request, made.resource, seat, call.token, kind, level), status=201)
    response[REPLAYED] = "true"
    return response


REPLAYED = "Idempotent-Replayed"  # on an answer that a keyed call's retry got: nothing new was made


def _key_reused() -> JsonResponse:
    return _api_error(
        422, "idempotency_key_reused", f"That {idempotency.HEADER} was sent before with a different request body."
    )


@csrf_exempt
@require_POST
async def api_join(request, game_id):
    try:
        call = idempotency.keyed(request, f"join {game_id}", {})
    except idempotency.BadKey as refusal:
        return _api_error(400, "bad_idempotency_key", str(refusal))
    if wait := await _refused(request, limits.JOIN):
        return _rate_limited(limits.JOIN, wait)
    try:
        # With a key the seat token is the key's, so a retry finds the seat the first attempt took.
        seat, token, event = await registry.join(game_id, call.token if call else None)
    except UnknownGame:
        return _api_error(404, "unknown_game", "No game has that ID.")
    except IllegalMove as refusal:
        return _api_error(409, refusal.code, refusal.message)
    return JsonResponse({"id": game_id, "seat": seat, "token": token, "seq": event["seq"], **_urls(request, game_id)})


async def _read(game_id):
    return await journal.read(store.read_game, game_id)


@require_GET
async def api_game(request, game_id):
    read = await _read(game_id)
    if read is None:
        return _api_error(404, "unknown_game", "No game has that ID.")
    game, match, history = read
    return JsonResponse(
        {
            "id": game.id,
            **snapshot(match, history, now_ms()),
            "created_at": game.created_at.isoformat(),
            "finished_at": game.finished_at.isoformat() if game.finished_at else None,
            **_urls(request, game.id),
        }
    )


@require_GET
async def api_events(request, game_id):
    after = request.GET.get("after", "0")
    if not after.isdigit():
        return _api_error(400, "bad_field", "'after' must be a whole number of at least 0.")
    read = await _read(game_id)
    if read is None:
        return _api_error(404, "unknown_game", "No game has that ID.")
    game, match, history = read
    return JsonResponse({"id": game.id, "seq": match.seq, "events": history[int(after) :]})
