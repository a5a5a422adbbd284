"""Games and their ordered event log.

The log is the truth: a game's state is whatever replaying its events gives.
``Game.status``, ``result`` and ``winner`` are kept beside it, in the same
transaction, so the admin and the API can filter without replaying.
"""

from django.db import models

from games.identity import new_game_id


class Game(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        PLAYING = "playing", "Playing"
        FINISHED = "finished", "Finished"
        ABORTED = "aborted", "Aborted"

    class Result(models.TextChoices):
        NONE = "", "-"
        WIN = "win", "Win"
        DRAW = "draw", "Draw"
        ABORTED = "aborted", "Aborted"

    id = models.CharField(primary_key=True, max_length=16, default=new_game_id, editable=False)
    kind = models.CharField(max_length=32, default="connect4")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.NONE, blank=True)
    winner = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Winning seat (1 or 2).")
    # The sequence number of the newest event: the database's arbiter when two
    # processes race to append to the same game.
    seq = models.PositiveIntegerField(default=0)
    seat1_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    seat2_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.id

    def token_hash(self, seat: int) -> str:
        return self.seat1_token_hash if seat == 1 else self.seat2_token_hash


class GameEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        JOINED = "joined", "Joined"
        MOVE = "move", "Move"
        ABORTED = "aborted", "Aborted"

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
