"""Play now (a seek for a stranger of the same time control) and the lobby's lists: pages for
people, JSON for bots.

A browser's seek belongs to its session: one at a time (a new one replaces it), its token kept
in the session, and once paired that token is its seat token, remembered like any other. A
bot's seek belongs to its address: one waiting at a time; the API hands the bot its token.
"""

import secrets

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from games.core.clock import BadTimeControl
from games.core.engines import ENGINES
from games.core.identity import hash_token, token_matches
from games.live import computer, lobby, seeking
from games.storage import pool, store
from games.web import idempotency, limits
from games.web.common import (
    REPLAYED,
    SUGGESTED_LEVEL,
    BadBody,
    api_body,
    api_error,
    computer_level,
    creating_call,
    form_number,
    home_page,
    home_refused,
    key_reused,
    made_with_key,
    rate_limited,
    refused,
    remember_seat,
    time_control_of,
    websocket_url,
)

SESSION_SEEK = "seek"  # {"id": ..., "token": ...}: the browser's seek
ENDED = {
    pool.CANCELLED: "You stopped looking for an opponent.",
    pool.EXPIRED: "You were away too long, so you left the queue. Press Play now to look again.",
    pool.REMOVED: "An operator removed your search for an opponent.",
}


def _time_control_name(name) -> str:
    control = time_control_of(name)
    return control.name if control else ""


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


# ----- Pages ------------------------------------------------------------------


async def _session_owner(request: HttpRequest) -> str:
    """The browser's session, named without its key (the key is a credential)."""
    if request.session.session_key is None:
        await request.session.asave()
    return "session:" + hash_token(request.session.session_key)[:40]


async def _session_seek(request: HttpRequest, seek_id: str) -> str:
    """The token of ``seek_id`` if it is this browser's seek; else 404."""
    held = await request.session.aget(SESSION_SEEK)
    if not held or held.get("id") != seek_id:
        raise Http404("That search for an opponent is not yours, or is over.")
    return held["token"]


@require_POST
async def play(request):
    """The Play now button: seek an opponent with the chosen time control."""
    if wait := await refused(request, limits.SEEK):
        return await home_refused(request, limits.SEEK, wait)
    try:
        time_control = _time_control_name(request.POST.get("time_control"))
    except BadTimeControl as refusal:
        return await home_page(request, {"notice": str(refusal)}, status=400)
    return await start_seek(request, time_control)


async def start_seek(request: HttpRequest, time_control: str):
    """This browser's seek for ``time_control`` (a preset's name, "" untimed), replacing any it
    had; redirects to the seek's page. (Play now, and Play again after a Play now game.)"""
    owner = await _session_owner(request)
    address = limits.request_address(request) or ""
    found, token = await seeking.create(owner, address, time_control, replace=True)
    await request.session.aset(SESSION_SEEK, {"id": found.id, "token": token})
    return redirect("seek", seek_id=found.id)


@never_cache
@require_GET
async def seek_page(request, seek_id):
    """Looking for an opponent: the time waited and Cancel; once paired, the game (seat remembered)."""
    token = await _session_seek(request, seek_id)
    found = await seeking.ticket(seek_id)
    if found is None:
        raise Http404("That search for an opponent is not yours, or is over.")
    if found.status == pool.PAIRED:
        await remember_seat(request, found.game_id, token)
        await request.session.apop(SESSION_SEEK, None)
        return redirect("game", game_id=found.game_id)
    if found.status != pool.WAITING:
        await request.session.apop(SESSION_SEEK, None)
        await sync_to_async(messages.info)(request, ENDED[found.status])
        return redirect("home")
    return _seek_page(request, found, token)


def _seek_page(request: HttpRequest, found, token: str, offer_notice: str = "", status: int = 200):
    """The page of a waiting seek; with ``offer_notice``, the offer of the computer is shown with
    what was wrong in it."""
    offer_after = settings.GAME_SEEK_OFFER_COMPUTER_AFTER_SECONDS
    context = {
        "seek": found,
        "computer_levels": list(ENGINES["connect4"].levels.items()),
        "offered_level": SUGGESTED_LEVEL,
        # Shown at once to a page (re)loaded that late; the script shows it when the time comes.
        "offer_now": bool(offer_notice) or (timezone.now() - found.created_at).total_seconds() >= offer_after,
        "offer_notice": offer_notice,
        "client": {
            "seekId": found.id,
            "token": token,
            "socketPath": f"/ws/seeks/{found.id}/",
            "timeControl": found.time_control,
            "createdAt": _ms(found.created_at),
            "offerComputerAfterMs": round(offer_after * 1000),
        },
    }
    return render(request, "games/seek.html", context, status=status)


@require_POST
async def seek_computer(request, seek_id):
    """Nobody came: play the computer instead, at the level chosen (a middling one if none is sent),
    with the seek's time control. A bad level changes nothing: the seek's page again, saying why.
    The seek ends first, so its seeker is never also paired; one paired meanwhile goes to its game."""
    token = await _session_seek(request, seek_id)
    try:
        level = computer_level(form_number(request.POST.get("level", SUGGESTED_LEVEL)))
    except ValueError as refusal:
        found = await seeking.ticket(seek_id)
        if found is None or found.status != pool.WAITING:
            return redirect("seek", seek_id=seek_id)  # paired or over meanwhile: its page says which
        return _seek_page(request, found, token, offer_notice=str(refusal), status=400)
    if wait := await refused(request, limits.CREATE):
        return await home_refused(request, limits.CREATE, wait)
    found = await seeking.end(seek_id, pool.CANCELLED)
    if found is not None and found.status == pool.PAIRED:
        return redirect("seek", seek_id=seek_id)
    await request.session.apop(SESSION_SEEK, None)
    control = time_control_of(found.time_control if found is not None else "")
    seat = secrets.choice((1, 2))
    # Public, as the Play now game it stands in for would have been.
    game_id, token = await computer.create_game(control=control, human_seat=seat, level=level, public=True)
    await remember_seat(request, game_id, token)
    return redirect("game", game_id=game_id)


@require_POST
async def cancel_seek(request, seek_id):
    """Cancel (works without script); a seek paired meanwhile goes to its game instead."""
    await _session_seek(request, seek_id)
    found = await seeking.end(seek_id, pool.CANCELLED)
    if found is not None and found.status == pool.PAIRED:
        return redirect("seek", seek_id=seek_id)
    await request.session.apop(SESSION_SEEK, None)
    await sync_to_async(messages.info)(request, ENDED[pool.CANCELLED])
    return redirect("home")


# ----- JSON API -----------------------------------------------------------------


def _seek_json(request: HttpRequest, found: pool.Ticket) -> dict:
    answer = {
        "id": found.id,
        "status": found.status,
        "time_control": found.time_control,
        "created_at": _ms(found.created_at),
        "websocket": websocket_url(request, f"/ws/seeks/{found.id}/"),
    }
    if found.status == pool.PAIRED:
        answer["game"] = {
            "id": found.game_id,
            "seat": found.seat,
            "page": request.build_absolute_uri(f"/g/{found.game_id}/"),
            "websocket": websocket_url(request, f"/ws/games/{found.game_id}/"),
        }
    return answer


@creating_call("seeks")
async def api_seek(request, body: dict, call: idempotency.Keyed | None):
    """Seek an opponent for a bot: one waiting seek per address; its token becomes the seat token."""
    try:
        time_control = _time_control_name(body.get("time_control"))
    except BadTimeControl as refusal:
        return api_error(400, "bad_field", str(refusal))
    if call is not None and (made := await idempotency.made_before(call)) is not None:
        return await _replayed_seek(request, call, made)
    if wait := await refused(request, limits.SEEK):
        return rate_limited(limits.SEEK, wait)
    address = limits.request_address(request) or ""
    keyed = made_with_key(call)
    try:
        found, token = await seeking.create(f"address:{address}", address, time_control, replace=False, **keyed)
    except store.AlreadyMade as made:  # the same call, sent twice at once: the other one made it
        return await _replayed_seek(request, call, made)
    except pool.AlreadySeeking as already:
        message = "Your address has a seek waiting already; cancel it first."
        return api_error(409, "already_seeking", message, seek_id=already.seek_id)
    return JsonResponse({**_seek_json(request, found), "token": token}, status=201)


async def _replayed_seek(request: HttpRequest, call: idempotency.Keyed, made: store.AlreadyMade) -> JsonResponse:
    """A seek sent again with its key: the seek the first call made, as it stands now."""
    if not idempotency.same_request(call, made):
        return key_reused()
    found = await seeking.ticket(made.resource)
    if found is None:
        return api_error(404, "unknown_seek", "No seek has that ID.")
    response = JsonResponse({**_seek_json(request, found), "token": call.token}, status=201)
    response[REPLAYED] = "true"
    return response


@require_GET
async def api_seek_state(request, seek_id):
    found = await seeking.ticket(seek_id)
    if found is None:
        return api_error(404, "unknown_seek", "No seek has that ID.")
    return JsonResponse(_seek_json(request, found))


@csrf_exempt
@require_POST
async def api_cancel_seek(request, seek_id):
    """Cancel with the seek's token; a seek paired first stays paired (the answer says so)."""
    try:
        body = api_body(request)
    except BadBody as refusal:
        return api_error(refusal.status, refusal.code, refusal.message)
    found = await seeking.ticket(seek_id)
    if found is None:
        return api_error(404, "unknown_seek", "No seek has that ID.")
    token = body.get("token")
    if not isinstance(token, str) or not token_matches(token, found.token_hash):
        return api_error(403, "bad_token", "That is not this seek's token.")
    return JsonResponse(_seek_json(request, await seeking.end(seek_id, pool.CANCELLED)))


@require_GET
async def api_lobby(request):
    """The lobby's lists as the socket at /ws/lobby/ sends them."""
    return JsonResponse(await lobby.current())
