"""Pages for people: the home page's forms, the game page, joining and watching, playing again,
and the health checks. A GET never claims a seat. (The JSON API for bots is games/web/api.py;
Play now's pages are games/web/lobby_views.py.)

Browsers keep their seat tokens in the session, keyed by game ID, and the game page hands the
token to its own script.
"""

import segno
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from games.core.clock import BadTimeControl
from games.core.engines import ENGINES
from games.core.identity import is_game_id, normalize_game_id
from games.core.rules import RULES, IllegalMove
from games.live import computer, registry
from games.models import Game, Seek
from games.web import limits, lobby_views, readiness
from games.web.common import (
    computer_choice,
    form_number,
    home_page,
    home_refused,
    refused,
    remember_seat,
    seat_choice,
    seat_in_session,
    slow_down,
    time_control_of,
)


async def _game_or_404(game_id: str) -> Game:
    game = await Game.objects.filter(pk=game_id).afirst()
    if game is None:
        raise Http404("No game with that code.")
    return game


def _qr_svg(url: str) -> str:
    """The invite link as an inline SVG QR code, for a friend's phone in the same room."""
    code = segno.make(url, error="m", micro=False)
    return mark_safe(code.svg_inline(scale=4, border=2, omitsize=True, title="QR code of the invite link"))


# ----- Pages ------------------------------------------------------------------


@require_GET
async def home(request):
    return await home_page(request)


@require_POST
async def create(request):
    """The New game button: whoever pressed it gets the colour they chose (Red without a choice)."""
    if wait := await refused(request, limits.CREATE):
        return await home_refused(request, limits.CREATE, wait)
    try:
        control = time_control_of(request.POST.get("time_control"))
        seat = seat_choice(form_number(request.POST.get("seat") or None), default=1)
    except (BadTimeControl, ValueError) as refusal:
        return await home_page(request, {"notice": str(refusal)}, status=400)
    public = request.POST.get("public") in ("on", "1", "true")
    game_id, token = await registry.create_game(control=control, public=public, seat=seat)
    await remember_seat(request, game_id, token)
    return redirect("game", game_id=game_id)


@require_POST
async def play_computer(request):
    """Play the computer: the chosen level, colour and time control; the game starts at once, on
    the lobby's watch list unless the person unticked "public" (the form ticks it)."""
    if wait := await refused(request, limits.CREATE):
        return await home_refused(request, limits.CREATE, wait)
    try:
        control = time_control_of(request.POST.get("time_control"))
        level = form_number(request.POST.get("level"))
        level, seat = computer_choice(level, form_number(request.POST.get("seat") or None))
    except (BadTimeControl, ValueError) as refusal:
        return await home_page(request, {"computer_notice": str(refusal)}, status=400)
    public = request.POST.get("public") in ("on", "1", "true")
    game_id, token = await computer.create_game(control=control, human_seat=seat, level=level, public=public)
    await remember_seat(request, game_id, token)
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
        return await home_page(request, context, status=404)
    if request.method == "GET":
        return redirect("game", game_id=game.id)
    return await _take_seat(request, game)


@never_cache
@require_GET
async def game_page(request, game_id):
    return await _render_game(request, await _game_or_404(game_id))


async def _render_game(request: HttpRequest, game: Game, status: int = 200, watching: bool = False):
    """The game page; ``watching``: the watch link's page, which never offers or restores a seat."""
    held, token = await seat_in_session(request, game)
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
    seat, _ = await seat_in_session(request, game)
    if seat is None:
        if wait := await refused(request, limits.JOIN):
            await sync_to_async(messages.warning)(request, slow_down(limits.JOIN, wait))
            response = await _render_game(request, game, status=429)
            response["Retry-After"] = str(wait)
            return response
        try:
            seat, token, _ = await registry.join(game.id)
        except IllegalMove as refusal:
            await sync_to_async(messages.warning)(request, NO_SEAT.get(refusal.code, refusal.message))
        else:
            await remember_seat(request, game.id, token)
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
    seat, _ = await seat_in_session(request, game)
    if seat is None or game.status not in (Game.Status.FINISHED, Game.Status.ABORTED):
        message = "Finish this game first." if seat else "Only its players can play this game again."
        await sync_to_async(messages.warning)(request, message)
        return redirect("game", game_id=game.id)
    again = await _again(game, seat)
    if again["kind"] == COMPUTER:
        return await _computer_again(request, game, seat)
    if again["kind"] == PLAY_NOW:
        if wait := await refused(request, limits.SEEK):
            return await home_refused(request, limits.SEEK, wait)
        return await lobby_views.start_seek(request, game.time_control)
    if wait := await refused(request, limits.CREATE):
        return await home_refused(request, limits.CREATE, wait)
    control, swapped = time_control_of(game.time_control), 3 - seat  # colours swapped, as in a rematch
    new_id, token = await registry.create_game(game.kind, control, game.public, swapped)
    await remember_seat(request, new_id, token)
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
