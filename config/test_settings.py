"""Settings for the test suite: the real settings, with a throwaway secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-only-not-secret")

from config.settings import *  # noqa: F403

# Tests render pages without running collectstatic first.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# Test clients play as fast as the machine allows; the rate-limit tests set their own limits.
GAME_RATE_PER_SECOND = 10_000
GAME_RATE_BURST = 10_000

# Tests create and join many games and open many sockets from one address; the limit tests lower these.
GAME_CREATE_PER_MINUTE = GAME_JOIN_PER_MINUTE = 1_000_000
GAME_CREATE_BURST = GAME_JOIN_BURST = 1_000_000
GAME_MAX_SOCKETS_PER_ADDRESS = 1_000_000
