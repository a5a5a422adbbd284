"""Operators' view of games: find them, read their log, see the board, abort them live; and live numbers."""

from datetime import timedelta

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from games import metrics
from games.core.engines import ENGINES
from games.core.rules import RULES, IllegalMove
from games.live import liveness, registry, seeking
from games.live.game import now_ms
from games.models import Game, GameEvent, Seek, Server
from games.storage import pool, store

# The admin's side list of every model takes a third of a laptop's width from the games list; the
# index and the breadcrumbs lead everywhere it does.
admin.site.enable_nav_sidebar = False

DISC = {0: "", 1: "●", 2: "▲"}  # told apart by shape as well as colour (colours: static/css/admin-board.css)


class GameEventInline(admin.TabularInline):
    model = GameEvent
    fields = ("seq", "kind", "seat", "data", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _live_connections():
    """Connections held by server processes that are still beating, whichever process holds them."""
    return Q(connections__server__seen_at__gte=liveness.alive_since())


class ComputerFilter(admin.SimpleListFilter):
    title = "opponent"
    parameter_name = "opponent"

    def lookups(self, request, model_admin):
        return [("computer", "The computer"), ("people", "Two people")]

    def queryset(self, request, queryset):
        if self.value() == "computer":
            return queryset.filter(computer_seat__isnull=False)
        if self.value() == "people":
            return queryset.filter(computer_seat__isnull=True)
        return queryset


class LiveFilter(admin.SimpleListFilter):
    title = "connections"
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return [("yes", "Someone connected"), ("no", "Nobody connected")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(live_connections__gt=0)
        if self.value() == "no":
            return queryset.filter(live_connections=0)
        return queryset


# How a won game was won, in a word, for the list ("Red wins (resign)"): the loser resigned, left, ran out of time.
OUTCOME_CAUSES = {"win": "four", "resigned": "resign", "abandoned": "left", "timeout": "time"}


def _minute(moment) -> str:
    """A time in the list: month, day and minute in the site's zone, the whole date on hover (the
    game's page has it to the second)."""
    if not moment:
        return "-"
    local = timezone.localtime(moment)
    return format_html('<span title="{}">{}</span>', f"{local:%Y-%m-%d %H:%M:%S %Z}", f"{local:%m-%d %H:%M}")


def _clock_text(ms: int) -> str:
    minutes, seconds = divmod(ms / 1000, 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def _computer(game: Game) -> tuple[str, int, str] | None:
    """The computer's seat name, level and level name in a game against it, else None."""
    if game.computer_seat is None:
        return None
    level = game.computer_level
    return RULES[game.kind].seat_names[game.computer_seat], level, ENGINES[game.kind].levels.get(level, "?")


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    # Short headers and compact values on one line each, so the whole list fits a laptop (1280 px)
    # beside the filters: the game's kind (one so far) is a filter; its status, result, winner and
    # an abort's code share a column (the abort's words, the level's name and the year on hover);
    # times are to the minute. The game's page has everything in full.
    list_display = (
        "id",
        "clock_name",
        "public",
        "opponent_short",
        "state",
        "seq",
        "connections",
        "created",
        "updated",
    )
    list_filter = (
        LiveFilter,
        "status",
        "result",
        "kind",
        "time_control",
        "public",
        ComputerFilter,
        "computer_level",
        "created_at",
    )
    search_fields = ("id",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = (
        "id",
        "kind",
        "status",
        "result",
        "abort_reason",
        "winner",
        "seq",
        "connected",
        "opponent",
        "computer_turn_since",
        "time_control_name",
        "public",
        "clocks",
        "board",
        "created_at",
        "started_at",
        "updated_at",
        "finished_at",
    )
    fields = readonly_fields
    inlines = [GameEventInline]
    actions = ["abort_games"]

    class Media:
        css = {"all": ["css/admin-board.css"]}  # no style attributes: the CSP allows none

    def has_add_permission(self, request):
        return False  # games are created by players, so they always have a creator's seat

    def has_change_permission(self, request, obj=None):
        """Nothing on a game's page can be saved (the log is the game): its page is for reading,
        with Close, not Save. Aborting is the list's action, which needs no change permission."""
        return False

    def get_queryset(self, request):
        aborted = GameEvent.objects.filter(game=OuterRef("pk"), kind=GameEvent.Kind.ABORTED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                live_connections=Count("connections", filter=_live_connections()),
                abort_code=Subquery(aborted.values("data__code")[:1]),
                abort_text=Subquery(aborted.values("data__reason")[:1]),
            )
        )

    @admin.display(description="Abort reason")
    def abort_reason(self, game):
        """The aborted event's code (expired, operator, player, both_left) and its words."""
        if game.abort_text is None:
            return "-"
        return f"{game.abort_code}: {game.abort_text}" if game.abort_code else game.abort_text

    @admin.display(description="State", ordering="status")
    def state(self, game):
        """The list's status and result in one: "Waiting", "Playing", "Red wins (four)", "Draw",
        "Aborted: expired" (the abort's words on hover). A game whose players left is "Playing"
        until it is forfeited, as its status is."""
        if game.status == Game.Status.ABORTED or game.result == Game.Result.ABORTED:
            code = game.abort_code or "aborted"
            return format_html('<span title="{}">Aborted: {}</span>', game.abort_text or "", code)
        if game.status != Game.Status.FINISHED:
            return game.get_status_display()
        if game.result == Game.Result.DRAW or not game.winner:
            return "Draw"
        winner = RULES[game.kind].seat_names.get(game.winner, f"seat {game.winner}")
        return f"{winner} wins ({OUTCOME_CAUSES.get(game.result, game.result)})"

    @admin.display(description="Conn.", ordering="live_connections")
    def connections(self, game):
        """Greeted sockets to this game across every live server process."""
        return game.live_connections

    @admin.display(description="Connected now")
    def connected(self, game):
        rows = game.connections.filter(server__seen_at__gte=liveness.alive_since()).select_related("server")
        if not rows:
            return "Nobody"
        return format_html_join(
            "",
            "<div>{} on {}</div>",
            (("spectator" if row.seat is None else f"seat {row.seat}", row.server) for row in rows),
        )

    @admin.display(description="Opponent", ordering="computer_level")
    def opponent(self, game):
        """Who plays whom: two people, or a person and the computer (its seat and level)."""
        computer = _computer(game)
        if computer is None:
            return "two people"
        seat_name, level, level_name = computer
        return f"computer as {seat_name}, level {level} ({level_name})"

    @admin.display(description="Opponent", ordering="computer_level")
    def opponent_short(self, game):
        """The list's opponent: "people", or "computer L3 (Yellow)"; the level's name on hover."""
        computer = _computer(game)
        if computer is None:
            return "people"
        seat_name, level, level_name = computer
        return format_html('<span title="{}">computer L{} ({})</span>', level_name, level, seat_name)

    @admin.display(description="Time control", ordering="time_control")
    def time_control_name(self, game):
        return game.time_control or "untimed"

    @admin.display(description="Clock", ordering="time_control")
    def clock_name(self, game):
        return game.time_control or "untimed"

    @admin.display(description="Created", ordering="created_at")
    def created(self, game):
        return _minute(game.created_at)

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, game):
        return _minute(game.updated_at)

    @admin.display(description="Clocks")
    def clocks(self, game):
        """Both clocks as they stand now, and when the side to move runs out."""
        read = store.read_game(game.id)
        if read is None or read[1].clock is None:
            return "-"
        _, match, _ = read
        clock = match.clock.to_json(match.turn, now_ms())
        parts = [f"{match.name(seat)} {_clock_text(clock['remaining'][str(seat)])}" for seat in (1, 2)]
        if clock["first_move_in"] is not None:
            parts.append(f"{match.name(match.turn)} must move within {clock['first_move_in'] / 1000:.1f} s")
        elif clock["running"]:
            parts.append(f"{match.name(clock['running'])}'s clock is running")
        if game.clock_deadline:
            parts.append(f"deadline {game.clock_deadline:%Y-%m-%d %H:%M:%S.%f} UTC")
        return "; ".join(parts)

    @admin.display(description="Board")
    def board(self, game):
        read = store.read_game(game.id)
        if read is None:
            return "-"
        _, match, _ = read
        position = match.rules.to_json(match.board)
        winning = {tuple(cell) for cell in match.summary()["line"]}
        rows = []
        for r in reversed(range(position["rows"])):  # top row first, as players see it
            cells = format_html_join(
                "",
                '<td class="seat-{}{}">{}</td>',
                (
                    (seat, " win" if (c, r) in winning else "", DISC[seat])
                    for c, seat in enumerate(position["board"][r])
                ),
            )
            rows.append(format_html("<tr>{}</tr>", cells))
        legend = "● seat 1 (red)   ▲ seat 2 (yellow)"
        return format_html(
            '<table class="game-board">{}</table><p>{}</p>',
            format_html_join("", "{}", ((row,) for row in rows)),
            legend,
        )

    @admin.action(description="Abort selected games (players are told at once)")
    def abort_games(self, request, queryset):
        aborted, skipped = 0, 0
        for game in queryset:
            try:
                async_to_sync(registry.abort)(game.id, "Aborted by an operator.")
                aborted += 1
            except IllegalMove:
                skipped += 1
        if aborted:
            self.message_user(request, f"Aborted {aborted} game(s).", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped} game(s) that were already over.", messages.WARNING)


@admin.register(Seek)
class SeekAdmin(admin.ModelAdmin):
    """Play now's queue: who waits for which time control, since when, and whether their socket is
    here; an operator may remove a seeker (its page is told at once)."""

    list_display = ("id", "time_control_name", "status", "waiting_for", "present", "address", "game", "seat")
    list_filter = ("status", "time_control")
    search_fields = ("id", "address", "game__id")
    ordering = ("status", "created_at")
    readonly_fields = (
        "id",
        "time_control_name",
        "status",
        "address",
        "game",
        "seat",
        "created_at",
        "seen_at",
        "away_since",
        "ended_at",
    )
    fields = readonly_fields
    actions = ["remove_seeks"]

    def has_add_permission(self, request):
        return False  # seekers make their own seeks

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Time control", ordering="time_control")
    def time_control_name(self, seek):
        return seek.time_control or "Untimed"

    @admin.display(description="Waiting since", ordering="created_at")
    def waiting_for(self, seek):
        return seek.created_at

    @admin.display(boolean=True, description="Socket open")
    def present(self, seek):
        return seek.status == Seek.Status.WAITING and seek.away_since is None

    @admin.action(description="Remove selected seekers from the queue (their pages are told at once)")
    def remove_seeks(self, request, queryset):
        removed = 0
        for seek in queryset.filter(status=Seek.Status.WAITING):
            found = async_to_sync(seeking.end)(seek.id, pool.REMOVED)
            removed += found is not None and found.status == pool.REMOVED
        self.message_user(request, f"Removed {removed} seeker(s).", messages.SUCCESS)
        if skipped := queryset.count() - removed:
            self.message_user(request, f"Skipped {skipped} seek(s) no longer waiting.", messages.WARNING)


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    """The server processes that have said they are alive, and how many sockets each holds."""

    list_display = ("id", "host", "pid", "started_at", "seen_at", "alive", "connection_count")
    readonly_fields = ("id", "host", "pid", "started_at", "seen_at")
    ordering = ("started_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(connection_count=Count("connections"))

    @admin.display(boolean=True, description="Alive")
    def alive(self, server):
        return server.seen_at >= liveness.alive_since()

    @admin.display(description="Connections", ordering="connection_count")
    def connection_count(self, server):
        return server.connection_count


# ----- Live numbers -------------------------------------------------------------

DASHBOARD_SECONDS = 5  # how often the page asks again
# Moves per minute is counted in the newest events of the log, at most this many of them: a
# bounded read however long the log. When all of them fall within the minute (a very busy
# server), the rate is taken over the span they cover.
RATE_WINDOW_EVENTS = 20_000


def moves_per_minute(now=None) -> int:
    """Moves committed in the last minute by every process, from the event log (the shared
    truth), so the dashboard has a real figure on its first render."""
    now = now or timezone.now()
    since = now - timedelta(minutes=1)
    newest = GameEvent.objects.order_by("-pk").values("pk")[:RATE_WINDOW_EVENTS]
    recent = GameEvent.objects.filter(pk__in=Subquery(newest), created_at__gte=since).aggregate(
        events=Count("pk"), moves=Count("pk", filter=Q(kind=GameEvent.Kind.MOVE)), oldest=Min("created_at")
    )
    if recent["events"] < RATE_WINDOW_EVENTS or recent["oldest"] is None:
        return recent["moves"]
    span = max((now - recent["oldest"]).total_seconds(), 1.0)
    return round(recent["moves"] * 60 / span)


def dashboard_numbers() -> dict[str, int]:
    """The dashboard's numbers: the collected values /metrics serves, and two the database knows
    (what the games list shows, and the rate of moves), each named for what it counts."""
    totals = metrics.totals()
    return {
        "open_sockets": int(totals.get("game_open_sockets", 0)),
        "games_playing": Game.objects.filter(status=Game.Status.PLAYING).count(),
        "games_in_memory": int(totals.get("game_games_in_memory", 0)),
        "moves_per_minute": moves_per_minute(),
        "moves_committed": int(totals.get("game_moves_committed_total", 0)),
        "refusals": int(totals.get("game_refusals_total", 0)),
    }


def metrics_dashboard(request):
    """A page of live numbers for operators; its script (static/js/admin/metrics.js) refreshes it."""
    context = {
        **admin.site.each_context(request),
        "title": "Live metrics",
        "numbers": dashboard_numbers(),
        "every": DASHBOARD_SECONDS,
    }
    return TemplateResponse(request, "admin/metrics.html", context)


def metrics_numbers(request):
    return JsonResponse(dashboard_numbers())
