"""Games and their ordered event log.

The log is the truth: a game's state is whatever replaying its events gives.
``Game.status``, ``result`` and ``winner`` are kept beside it, in the same
transaction, so the admin and the API can filter without replaying.
"""

from django.db import models
from django.utils import timezone

from games.core.identity import new_game_id, new_seek_id


class Game(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        PLAYING = "playing", "Playing"
        FINISHED = "finished", "Finished"
        ABORTED = "aborted", "Aborted"

    class Result(models.TextChoices):
        NONE = "", "-"
        WIN = "win", "Four in a row"
        DRAW = "draw", "Draw"
        RESIGNED = "resigned", "Resigned"
        ABANDONED = "abandoned", "Abandoned"
        TIMEOUT = "timeout", "On time"
        ABORTED = "aborted", "Aborted"

    id = models.CharField(primary_key=True, max_length=16, default=new_game_id, editable=False)
    kind = models.CharField(max_length=32, default="connect4")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.NONE, blank=True)
    winner = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Winning seat (1 or 2).")
    # The sequence number of the newest event: the database's arbiter when two
    # processes race to append to the same game.
    seq = models.PositiveIntegerField(default=0)
    # The time control's name ("3+2"), or blank for an untimed game; the log's created event has it all.
    time_control = models.CharField(max_length=16, blank=True, default="")
    # Listed in the lobby's open challenges while it waits for an opponent (an invite stays private).
    public = models.BooleanField(default=False)
    # When the side to move runs out of time (or misses its first move): stored with every
    # event, so whichever process sweeps first can end the game on time, even after a crash.
    clock_deadline = models.DateTimeField(null=True, blank=True)
    # The computer opponent's seat and level (both None when both players are people); the log's
    # created event says the same. The computer's seat has no token: nobody can play it.
    computer_seat = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The computer's seat (1 or 2).")
    computer_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="From 1 to 5.")
    # Since when the computer has had the move (None while it has not): stored with every event, so
    # a turn the thinking process never took (it died) is taken by the sweeper of any process.
    computer_turn_since = models.DateTimeField(null=True, blank=True)
    seat1_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    seat2_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    # When each seat's last connection went away (None while connected). Stored, so
    # abandonment deadlines survive a restart.
    seat1_away_since = models.DateTimeField(null=True, blank=True)
    seat2_away_since = models.DateTimeField(null=True, blank=True)
    # Bumped with every change of who is connected, by whichever process saw it, so
    # a socket can skip presence updates older than the one it already has.
    presence_version = models.PositiveIntegerField(default=0, editable=False)
    rematch_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rematch", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)  # both seats taken: play began
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "seat1_away_since"], name="game_seat1_away"),
            models.Index(fields=["status", "seat2_away_since"], name="game_seat2_away"),
            # The sweeper's search for games nobody joined in time, and the purge's for old aborted ones.
            models.Index(fields=["status", "created_at"], name="game_status_created"),
            # The sweeper's search for clocks that ran out.
            models.Index(fields=["status", "clock_deadline"], name="game_clock_deadline"),
            # The lobby's lists: open challenges, and the games being played, newest first.
            models.Index(fields=["status", "public", "created_at"], name="game_open_challenges"),
            models.Index(fields=["status", "public", "started_at"], name="game_public_started"),
            # The sweeper's search for computer turns nobody took.
            models.Index(fields=["status", "computer_turn_since"], name="game_computer_turn"),
        ]

    def __str__(self):
        return self.id

    def token_hash(self, seat: int) -> str:
        return self.seat1_token_hash if seat == 1 else self.seat2_token_hash

    def away_since(self, seat: int):
        return self.seat1_away_since if seat == 1 else self.seat2_away_since


class GameEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        JOINED = "joined", "Joined"
        MOVE = "move", "Move"
        RESIGNED = "resigned", "Resigned"
        ABANDONED = "abandoned", "Abandoned"
        ABORTED = "aborted", "Aborted"
        TIMEOUT = "timeout", "Lost on time"
        CLOCK_CREDIT = "clock_credit", "Time given back"
        REMATCH_OFFERED = "rematch_offered", "Rematch offered"
        REMATCH = "rematch", "Rematch agreed"

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seat = models.PositiveSmallIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["game", "seq"]
        constraints = [models.UniqueConstraint(fields=["game", "seq"], name="unique_event_seq_per_game")]

    def __str__(self):
        return f"{self.game_id} #{self.seq} {self.kind}"


class Server(models.Model):
    """A running server process. Its heartbeat is what keeps its connections counted."""

    id = models.CharField(primary_key=True, max_length=32)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["started_at"]

    def __str__(self):
        return f"{self.host}:{self.pid}"


class Connection(models.Model):
    """A greeted WebSocket on some server process: a seat's player, or a spectator (no seat)."""

    channel_name = models.CharField(primary_key=True, max_length=200)
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="connections")
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="connections")
    seat = models.PositiveSmallIntegerField(null=True, blank=True)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["game", "since"]

    def __str__(self):
        return f"{self.game_id} {'spectator' if self.seat is None else f'seat {self.seat}'}"


class Pool(models.Model):
    """One row per time control. Pairing in a pool holds its row's lock, so two processes never
    pair at the same time from the same pool, and every seeker arriving sees the ones before."""

    time_control = models.CharField(primary_key=True, max_length=16, blank=True)

    def __str__(self):
        return self.time_control or "untimed"


class Seek(models.Model):
    """A seeker waiting to be paired with a stranger of the same time control: a row, so the
    waiting list survives a restart and the database decides every pairing, across processes."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        PAIRED = "paired", "Paired"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        REMOVED = "removed", "Removed by an operator"

    id = models.CharField(primary_key=True, max_length=16, default=new_seek_id, editable=False)
    time_control = models.CharField(max_length=16, blank=True, default="")
    # Whose seek it is: "session:<hash of the browser session>" or "address:<client address>" (a bot):
    # one waiting seek each.
    owner = models.CharField(max_length=100, editable=False)
    address = models.CharField(max_length=45, blank=True, default="", help_text="The client's address.")
    # The seeker's secret becomes its seat token once paired: only its hash is kept.
    token_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    game = models.ForeignKey(Game, null=True, blank=True, on_delete=models.SET_NULL, related_name="seeks")
    seat = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The seat it was given (1 or 2).")
    created_at = models.DateTimeField(default=timezone.now)
    # Refreshed while a socket of the seeker is open on some process; None once it has gone away.
    seen_at = models.DateTimeField(default=timezone.now)
    away_since = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(status="waiting"), name="one_waiting_seek_per_owner"
            )
        ]
        indexes = [
            models.Index(fields=["status", "time_control", "created_at"], name="seek_waiting"),
            models.Index(fields=["status", "seen_at"], name="seek_seen"),
        ]

    def __str__(self):
        return f"{self.id} ({self.time_control or 'untimed'})"


class RequestKey(models.Model):
    """An API call made with an ``Idempotency-Key``: written in the same transaction as the game
    or seek the call made, so the same call sent again (after an error or a lost answer) finds
    what the first made instead of making a second. Nothing secret is kept (games/web/idempotency.py)."""

    # sha256 of the call, the client's address and the client's key: one client's key never meets another's.
    key = models.CharField(primary_key=True, max_length=64, editable=False)
    # sha256 of the request's body: the same key with a different body is refused, not replayed.
    fingerprint = models.CharField(max_length=64, editable=False)
    resource = models.CharField(max_length=16, editable=False, help_text="The game or seek the call made.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.resource
