"""Delete aborted games that never started, once they are old, with everything that refers to them;
and forget the API's idempotency keys once they are past GAME_IDEMPOTENCY_KEEP_HOURS.

Such a game holds nothing anyone can come back to: nobody joined, so there was no play, no
result and no rematch. Finished games, and games aborted after a second player joined, are
kept. Each batch is its own short transaction, so the server keeps running alongside.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from games.core.match import ABORTED
from games.models import Game, RequestKey


def never_started_before(cutoff):
    """Aborted games nobody ever joined (seat 2 has no token), created before ``cutoff``."""
    return Game.objects.filter(status=ABORTED, seat2_token_hash="", created_at__lt=cutoff)


class Command(BaseCommand):
    help = "Delete, in batches, aborted games that never started and are older than a number of days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=settings.GAME_PURGE_AFTER_DAYS,
            metavar="DAYS",
            help="Age in days (default GAME_PURGE_AFTER_DAYS, %(default)s).",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="Games per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")

    def handle(self, *args, older_than, batch_size, dry_run, **options):
        if older_than < 0 or batch_size < 1:
            raise CommandError("--older-than must be 0 or more and --batch-size at least 1.")
        cutoff = timezone.now() - timedelta(days=older_than)
        old, before = never_started_before(cutoff), f"created before {cutoff:%Y-%m-%d %H:%M} UTC"
        keys = RequestKey.objects.filter(
            created_at__lt=timezone.now() - timedelta(hours=settings.GAME_IDEMPOTENCY_KEEP_HOURS)
        )
        if dry_run:
            self.stdout.write(f"Would delete {old.count()} aborted game(s) that never started, {before}.")
            self.stdout.write(f"Would forget {keys.count()} idempotency key(s).")
            return
        games = events = batches = 0
        while True:
            with transaction.atomic():  # one batch: listed and deleted (events, connections too) together
                ids = list(old.order_by("created_at").values_list("id", flat=True)[:batch_size])
                if not ids:
                    break
                _, deleted = old.filter(pk__in=ids).delete()
            batches += 1
            games += deleted.get("games.Game", 0)
            events += deleted.get("games.GameEvent", 0)
            rows = ", ".join(f"{n} {label}" for label, n in sorted(deleted.items()))
            self.stdout.write(f"Batch {batches}: deleted {rows}.")
        self.stdout.write(
            f"Deleted {games} aborted game(s) that never started, {before},"
            f" with {events} event(s), in {batches} batch(es)."
        )
        forgotten, _ = keys.delete()
        hours = settings.GAME_IDEMPOTENCY_KEEP_HOURS
        self.stdout.write(f"Forgot {forgotten} idempotency key(s) older than {hours:g} hours.")
