from django.urls import re_path

from games.web.consumers import GameConsumer
from games.web.lobby_consumers import LobbyConsumer, SeekConsumer

# Any ID-shaped path reaches its consumer, so an unknown game or seek gets a clear close code.
websocket_urlpatterns = [
    re_path(r"^ws/games/(?P<game_id>[A-Za-z0-9]{1,16})/$", GameConsumer.as_asgi()),
    re_path(r"^ws/seeks/(?P<seek_id>[A-Za-z0-9]{1,16})/$", SeekConsumer.as_asgi()),
    re_path(r"^ws/lobby/$", LobbyConsumer.as_asgi()),
]
