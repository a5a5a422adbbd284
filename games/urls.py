from django.urls import path, register_converter

from games import metrics
from games.core.identity import GAME_ID_PATTERN, SEEK_ID_PATTERN
from games.web import api, lobby_views, views


class GameIdConverter:
    regex = GAME_ID_PATTERN

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class SeekIdConverter(GameIdConverter):
    regex = SEEK_ID_PATTERN


register_converter(GameIdConverter, "game_id")
register_converter(SeekIdConverter, "seek_id")

urlpatterns = [
    path("", views.home, name="home"),
    path("games/new", views.create, name="create"),
    path("computer", views.play_computer, name="play-computer"),
    path("join", views.find, name="find"),
    path("g/<game_id:game_id>/", views.game_page, name="game"),
    path("g/<game_id:game_id>/join", views.join_page, name="join"),
    path("g/<game_id:game_id>/watch", views.watch_page, name="watch"),
    path("g/<game_id:game_id>/again", views.play_again, name="play-again"),
    path("play", lobby_views.play, name="play"),
    path("play/<seek_id:seek_id>/", lobby_views.seek_page, name="seek"),
    path("play/<seek_id:seek_id>/cancel", lobby_views.cancel_seek, name="cancel-seek"),
    path("play/<seek_id:seek_id>/computer", lobby_views.seek_computer, name="seek-computer"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/games", api.api_create, name="api-create"),
    path("api/games/<game_id:game_id>", api.api_game, name="api-game"),
    path("api/games/<game_id:game_id>/join", api.api_join, name="api-join"),
    path("api/games/<game_id:game_id>/events", api.api_events, name="api-events"),
    path("api/seeks", lobby_views.api_seek, name="api-seek"),
    path("api/seeks/<seek_id:seek_id>", lobby_views.api_seek_state, name="api-seek-state"),
    path("api/seeks/<seek_id:seek_id>/cancel", lobby_views.api_cancel_seek, name="api-cancel-seek"),
    path("api/lobby", lobby_views.api_lobby, name="api-lobby"),
]
