"""Settings, read from environment variables.

With nothing set, the server runs on embedded defaults: SQLite (WAL mode) and the
in-memory channel layer. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL
and channels-redis for production and for running several processes.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from games.core.clock import BadTimeControl, amounts

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY, or DJANGO_DEBUG=1 for local development.")
    SECRET_KEY = "insecure-local-development-key-do-not-deploy"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "games",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.PageCSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The JSON API and the probes read no session or cookie and render no page, so they are
# served by a second Django handler with only this middleware (config/asgi.py). Under ASGI
# each synchronous middleware hook is a hop to a thread and back; the full list above cost
# an API call about 2 ms of CPU, more than its own work.
LEAN_PATHS = ("/api/", "/healthz", "/readyz", "/metrics")
LEAN_MIDDLEWARE = ["config.middleware.AsyncSecurityMiddleware", "config.middleware.JsonApiErrors"]

# Content-Security-Policy on every page (django-csp; the API and probes render none): scripts,
# styles, images and fonts from this site only, no inline script or style attribute, no
# plugins, no framing. config/csp.py adds the page's own ws:// or wss:// origin to connect-src.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Admin logins (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT failures from one address, or
# as one user name, logins from that address and as that name are refused, even with the
# right password, until ADMIN_LOGIN_LOCKOUT_MINUTES pass with no further attempt. The
# attempts, successful logins and lockouts are listed in the admin ("Axes").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses a locked-out login
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_FAILURE_LIMIT") or 5)
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("ADMIN_LOGIN_LOCKOUT_MINUTES") or 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each counted on its own
AXES_CLIENT_IP_CALLABLE = "games.web.limits.request_address"
AXES_LOCKOUT_CALLABLE = "config.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True  # a login that succeeds clears its address's and user name's failures

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite by default; DATABASE_URL (e.g. postgres://user@host/db) overrides it.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool: opening a PostgreSQL connection costs more than a move, and under ASGI every
    # HTTP request runs its database work on a thread of its own, so per-thread persistent
    # connections would pile up.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks a connection before handing it out: one the server dropped (a restart, an
    # operator's pg_terminate_backend) is replaced instead of failing the request that gets it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DJANGO_DB_POOL_SIZE") or 20),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while a move commits; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in-memory for one process; Redis pub/sub when REDIS_URL is set, so several
# processes share groups. A group message is published once and Redis hands it to each
# process subscribed to the group, which delivers it to its own sockets. Pub/sub keeps
# nothing for a subscriber that is reconnecting; the sweeper's heal covers that (games/live/registry.py).
REDIS_URL = os.environ.get("REDIS_URL", "")
# The most any one call to Redis may take (connecting, or waiting for its answer): a Redis that
# hangs (stopped, a network that drops packets) fails the call in about this long, so a new socket
# is told 1012 and a move's broadcast gives up instead of waiting for Redis to wake.
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS") or 1.0)
REDIS_CLIENT_OPTIONS = {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "games.layers.redis_guard.GuardedRedisLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, **REDIS_CLIENT_OPTIONS}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "games.layers.memory.InMemoryLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.storage.StaticFilesStorage"},  # hashed names, module imports too
}
# Pages still render before collectstatic has run (tests, first start); names just aren't hashed.
WHITENOISE_MANIFEST_STRICT = False
WHITENOISE_USE_FINDERS = DEBUG

# Seat tokens live in the session; keep it to this site and out of scripts.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

# HTTPS is terminated at the proxy (see docs/deploy.md), which says so in X-Forwarded-Proto.
BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG and BEHIND_TLS_PROXY)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", not DEBUG and BEHIND_TLS_PROXY)
# Probes and scrapes may come over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS") or (31_536_000 if BEHIND_TLS_PROXY else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", BEHIND_TLS_PROXY)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}


def env_seconds(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


# A player away this long may be declared the loser by the opponent...
GAME_CLAIM_AFTER_SECONDS = env_seconds("GAME_CLAIM_AFTER_SECONDS", 60)
# ...and loses by themselves after this long (both away this long: the game is aborted).
GAME_FORFEIT_AFTER_SECONDS = env_seconds("GAME_FORFEIT_AFTER_SECONDS", 600)
# A socket that sends nothing (not even a ping) for this long is closed with code 4408.
GAME_IDLE_TIMEOUT_SECONDS = env_seconds("GAME_IDLE_TIMEOUT_SECONDS", 120)
# How often each process checks the two limits above and says it is alive.
GAME_SWEEP_INTERVAL_SECONDS = env_seconds("GAME_SWEEP_INTERVAL_SECONDS", 2)
# A process silent this long is taken for dead: its connections stop counting as present.
GAME_SERVER_TIMEOUT_SECONDS = env_seconds("GAME_SERVER_TIMEOUT_SECONDS", 15)
# Each player's first move in a timed game must come within this long, or the game is called off.
GAME_FIRST_MOVE_SECONDS = env_seconds("GAME_FIRST_MOVE_SECONDS", 30)
# Time controls the API accepts besides the presets, such as "10s+0" (ten seconds, nothing added):
# for a bot's tests of running out of time, never offered on the pages. Checked here, at start.
GAME_EXTRA_TIME_CONTROLS = tuple(env_list("GAME_EXTRA_TIME_CONTROLS", ""))
for _name in GAME_EXTRA_TIME_CONTROLS:
    try:
        amounts(_name)
    except BadTimeControl as refusal:
        raise ImproperlyConfigured(f"GAME_EXTRA_TIME_CONTROLS: {refusal}") from None
# A move the channel layer failed to deliver reaches the other processes' players from the log, at
# their next sweep; if it was held up this long, the time the player to move was not shown it is
# given back (a clock_credit). Shorter delays are the layer's ordinary pace, not a failure.
GAME_LATE_DELIVERY_CREDIT_SECONDS = env_seconds("GAME_LATE_DELIVERY_CREDIT_SECONDS", 1)
# A process that starts when no other has beaten for this long gives the gap back to running clocks.
GAME_OUTAGE_AFTER_SECONDS = env_seconds("GAME_OUTAGE_AFTER_SECONDS", 5)
# A seeker (Play now) whose sockets have all been gone this long leaves the pool; until then it
# keeps its place (a reload, a phone off Wi-Fi for a moment), though nobody is paired with it.
GAME_SEEK_GRACE_SECONDS = env_seconds("GAME_SEEK_GRACE_SECONDS", 20)
# The computer opponent (games/live/computer.py): the most a move at the top levels may think (less when
# its clock is short); how long its natural pause before moving lasts, as a share of the usual
# (0: no pause, as the tests play); worker processes for its search in each server process; and how
# long a turn of the computer may stay untaken (the process thinking for it died) before the
# sweeper of any process takes it.
GAME_COMPUTER_THINK_SECONDS = env_seconds("GAME_COMPUTER_THINK_SECONDS", 0.9)
GAME_COMPUTER_PACE = env_seconds("GAME_COMPUTER_PACE", 1.0)
GAME_ENGINE_WORKERS = int(os.environ.get("GAME_ENGINE_WORKERS") or 1)
# How much lower than the server's the pool's workers run (Unix niceness, 0 to 19).
GAME_ENGINE_NICENESS = int(os.environ.get("GAME_ENGINE_NICENESS") or 10)
GAME_COMPUTER_STALL_SECONDS = env_seconds("GAME_COMPUTER_STALL_SECONDS", 5)
# Where the computer's search runs: "pool", in GAME_ENGINE_WORKERS worker processes beside each
# server process (the default), or "tasks", on engine workers of their own through the task queue
# below (`manage.py db_worker --queue-name engine`), so engine capacity grows apart from sockets.
# A search no worker answers within its budget plus GAME_ENGINE_TASK_WAIT_SECONDS is made here.
GAME_ENGINE_BACKEND = os.environ.get("GAME_ENGINE_BACKEND") or "pool"
if GAME_ENGINE_BACKEND not in ("pool", "tasks"):
    raise ImproperlyConfigured('GAME_ENGINE_BACKEND must be "pool" or "tasks".')
GAME_ENGINE_TASK_WAIT_SECONDS = env_seconds("GAME_ENGINE_TASK_WAIT_SECONDS", 5)
# Django's tasks framework (django-tasks, its database backend): the engine's queue.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["engine"]}}
# Play now offers a game against the computer after this long without an opponent.
GAME_SEEK_OFFER_COMPUTER_AFTER_SECONDS = env_seconds("GAME_SEEK_OFFER_COMPUTER_AFTER_SECONDS", 20)
# A game nobody joins within this long is aborted with the code "expired" (default one day)...
GAME_EXPIRE_UNJOINED_AFTER_SECONDS = env_seconds("GAME_EXPIRE_UNJOINED_AFTER_SECONDS", 24 * 3600)
# ...at most this many per sweep of each process, so one sweep stays short after a backlog.
GAME_EXPIRE_BATCH = int(os.environ.get("GAME_EXPIRE_BATCH") or 100)
# manage.py purge_games deletes aborted games that never started once they are this many days old.
GAME_PURGE_AFTER_DAYS = env_seconds("GAME_PURGE_AFTER_DAYS", 30)
# An API call's Idempotency-Key is answered from what it made for at least this many hours; then
# manage.py purge_games forgets it (docs/protocol.md, "Sending a call again").
GAME_IDEMPOTENCY_KEEP_HOURS = env_seconds("GAME_IDEMPOTENCY_KEEP_HOURS", 24)
# Per-connection limits: message size (bytes) and rate (messages per second, with a burst).
GAME_MAX_MESSAGE_BYTES = int(os.environ.get("GAME_MAX_MESSAGE_BYTES") or 4096)
GAME_RATE_PER_SECOND = env_seconds("GAME_RATE_PER_SECOND", 20)
GAME_RATE_BURST = int(os.environ.get("GAME_RATE_BURST") or 40)

# Per-address limits (games/web/limits.py), counted in Redis across processes when REDIS_URL is set.
# Games created (the page's button and the API together) and seats joined (the page, the API and
# the socket's join) and seeks made (Play now: the page and the API): at most this many a minute,
# and at most the burst at once.
GAME_CREATE_PER_MINUTE = env_seconds("GAME_CREATE_PER_MINUTE", 20)
GAME_CREATE_BURST = int(os.environ.get("GAME_CREATE_BURST") or 10)
GAME_JOIN_PER_MINUTE = env_seconds("GAME_JOIN_PER_MINUTE", 20)
GAME_JOIN_BURST = int(os.environ.get("GAME_JOIN_BURST") or 10)
GAME_SEEK_PER_MINUTE = env_seconds("GAME_SEEK_PER_MINUTE", 20)
GAME_SEEK_BURST = int(os.environ.get("GAME_SEEK_BURST") or 10)
# WebSocket connections one address may hold open at once, across all processes.
GAME_MAX_SOCKETS_PER_ADDRESS = int(os.environ.get("GAME_MAX_SOCKETS_PER_ADDRESS") or 200)
# Proxies (addresses or networks, e.g. 127.0.0.1,10.0.0.0/8) whose X-Forwarded-For is believed.
# None by default: every client is its TCP peer, and a header cannot change that.
GAME_TRUSTED_PROXIES = env_list("GAME_TRUSTED_PROXIES", "")

# Metrics (games/metrics.py). With several processes, a directory they all share, emptied at
# each full deploy: prometheus-client reads this variable itself, when it is first imported.
GAME_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# /metrics answers direct requests from these networks, and anyone with the bearer token.
GAME_METRICS_ALLOWED_NETWORKS = env_list("GAME_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
GAME_METRICS_TOKEN = os.environ.get("GAME_METRICS_TOKEN", "")
