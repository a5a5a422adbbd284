"""What the pages and the JSON API share: reading a request (a JSON body, a form's number, a time
control, the computer's level, a seat), answering an error, the per-address limits' refusals, the
seats a browser holds in its session, and the home page, which several forms answer with."""

from __future__ import annotations

import functools
import json
import secrets

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from games.core.clock import TimeControl, parse_time_control
from games.core.engines import ENGINES
from games.core.identity import token_matches
from games.live import lobby
from games.models import Game
from games.storage import store
from games.web import idempotency, limits

SESSION_SEATS = "seats"
MAX_SEATS_IN_SESSION = 50


async def remember_seat(request: HttpRequest, game_id: str, token: str) -> None:
    seats = dict(await request.session.aget(SESSION_SEATS, {}))
    seats.pop(game_id, None)
    seats[game_id] = token
    while len(seats) > MAX_SEATS_IN_SESSION:  # oldest first: dicts keep insertion order
        seats.pop(next(iter(seats)))
    await request.session.aset(SESSION_SEATS, seats)


async def seat_in_session(request: HttpRequest, game: Game) -> tuple[int | None, str]:
    """The seat this browser holds, if any. A rematch keeps the players' tokens, seats swapped."""
    seats = await request.session.aget(SESSION_SEATS, {})
    for game_id in (game.id, game.rematch_of_id):
        token = seats.get(game_id, "") if game_id else ""
        for seat in (1, 2):
            if token_matches(token, game.token_hash(seat)):
                if game_id != game.id:
                    await remember_seat(request, game.id, token)
                return seat, token
    return None, ""


def websocket_url(request: HttpRequest, path: str) -> str:
    return f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}{path}"


def game_urls(request: HttpRequest, game_id: str) -> dict:
    return {
        "page": request.build_absolute_uri(reverse("game", args=[game_id])),
        "websocket": websocket_url(request, f"/ws/games/{game_id}/"),
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


def read_call(request: HttpRequest, call: str) -> tuple[dict, idempotency.Keyed | None]:
    """A creating API call's body and its idempotency key (None without one); BadBody for either
    gone wrong, a bad key answering ``400 bad_idempotency_key``."""
    body = api_body(request)
    try:
        return body, idempotency.keyed(request, call, body)
    except idempotency.BadKey as refusal:
        raise BadBody(400, "bad_idempotency_key", str(refusal)) from None


def creating_call(call: str):
    """A JSON API view that makes something (``call`` names it for its idempotency keys): exempt
    from CSRF (no cookie is read or set; the token in the answer is the only credential), POST
    only, and called as ``view(request, body, keyed, ...)`` once its body and key are read (a bad
    one is answered here). ``keyed`` is None without a key."""

    def decorate(view):
        @csrf_exempt
        @require_POST
        @functools.wraps(view)
        async def read_first(request: HttpRequest, *args, **kwargs):
            try:
                body, keyed = read_call(request, call)
            except BadBody as refusal:
                return bad_body(refusal)
            return await view(request, body, keyed, *args, **kwargs)

        return read_first

    return decorate


def made_with_key(keyed: idempotency.Keyed | None) -> dict:
    """The arguments that make a call's game or seek under its key: its token and its record."""
    return {"token": keyed.token, "request_key": keyed.record} if keyed else {}


def bad_body(refusal: BadBody) -> JsonResponse:
    return api_error(refusal.status, refusal.code, refusal.message)


def api_error(status: int, code: str, message: str, **details) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **details}, status=status)


def slow_down(action: str, seconds: int) -> str:
    what = {limits.CREATE: "new games", limits.JOIN: "joins", limits.SEEK: "searches for an opponent"}[action]
    return f"Too many {what} from your address; try again in {seconds} seconds."


async def refused(request: HttpRequest, action: str) -> int | None:
    """Count ``action`` against the client's address: None if allowed, else seconds to wait."""
    return await limits.retry_after(action, limits.request_address(request))


async def home_refused(request: HttpRequest, action: str, seconds: int):
    """The home page, 429, saying in words when to try ``action`` again."""
    response = await home_page(request, {"notice": slow_down(action, seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def rate_limited(action: str, seconds: int) -> JsonResponse:
    response = api_error(429, "rate_limited", slow_down(action, seconds))
    response["Retry-After"] = str(seconds)
    return response


def time_control_of(name) -> TimeControl | None:
    """The chosen preset (None: untimed), with the first move's limit as configured."""
    return parse_time_control(name, settings.GAME_FIRST_MOVE_SECONDS, settings.GAME_EXTRA_TIME_CONTROLS)


# The time control the home page's three forms (Play now, Play the computer, Start a game) start
# with: one for all, a short game with an increment, so nobody waits on a stalled opponent for
# ever. The API's default (untimed, when a client sends none) is its own and unchanged.
HOME_TIME_CONTROL = "3+2"
# The computer's level the pages offer first (the home page's card, the seek page's offer): a
# middling opponent. The API's default stays level 1, as documented for bots.
SUGGESTED_LEVEL = 3


async def home_page(request: HttpRequest, context: dict | None = None, status: int = 200):
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


LEVEL_CHOICES = "'level' must be a whole number from 1 to 5."
SEAT_CHOICES = "'seat' must be 1 (Red, moves first), 2 (Yellow) or \"random\"."


def computer_level(level) -> int:
    """The computer's level (1 to 5) as a JSON number; ValueError saying what is allowed."""
    if not isinstance(level, int) or isinstance(level, bool) or level not in ENGINES["connect4"].levels:
        raise ValueError(LEVEL_CHOICES)
    return level


def seat_choice(seat, default: int | None = None) -> int:
    """The seat a player chose (1, 2, or drawn for "random"), as JSON (the API is strict about
    types; forms convert first); missing, ``default`` (None: drawn). ValueError saying what is allowed."""
    if seat is None and default is not None:
        return default
    if seat in (None, "random"):
        return secrets.choice((1, 2))
    if seat not in (1, 2) or isinstance(seat, bool):
        raise ValueError(SEAT_CHOICES)
    return seat


def computer_choice(level, seat) -> tuple[int, int]:
    """The level (1 to 5) and the person's seat (1, 2, or drawn for "random"/missing), as JSON
    numbers; ValueError with a message that says what is allowed."""
    return computer_level(level), seat_choice(seat)


def form_number(value: str | None):
    """A form's digits as a number, anything else as it came (so the check names it). Only ASCII
    digits count: int() would also read other scripts' digits."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


REPLAYED = "Idempotent-Replayed"  # on an answer that a keyed call's retry got: nothing new was made


def key_reused() -> JsonResponse:
    return api_error(
        422, "idempotency_key_reused", f"That {idempotency.HEADER} was sent before with a different request body."
    )
