from django.urls import re_path

from games.consumers import GameConsumer

# Any ID-shaped path reaches the consumer, so an unknown game gets a clear close code.
websocket_urlpatterns = [re_path(r"^ws/games/(?P<game_id>[A-Za-z0-9]{1,16})/$", GameConsumer.as_asgi())]
