"""Baseline (b): the naive Channels relay, as the tutorial writes it, served by daphne.

Each socket joins the channel-layer group named by its game ID and ``group_send``s
whatever it receives to that group; the group's other sockets forward it. No
validation, no database. It pays what any Channels app pays per message (the
ASGI consumer, the channel layer), so the gap between it and our server is what
our own work costs. Channels' stock in-memory layer by default (``RELAY_LAYER`` names
another, such as our ``games.layers.memory.InMemoryLayer``); Redis pub/sub when ``REDIS_URL`` is set.

Run: ``daphne -p 8002 bench.baselines.channels_relay:application``
"""

import os

import django
from django.conf import settings

# The same layer as our server's with REDIS_URL set (config/settings.py).
REDIS_LAYER = {
    "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "CONFIG": {"hosts": [os.environ.get("REDIS_URL")]},
}
IN_MEMORY_LAYER = {"BACKEND": os.environ.get("RELAY_LAYER", "channels.layers.InMemoryChannelLayer")}
settings.configure(CHANNEL_LAYERS={"default": REDIS_LAYER if os.environ.get("REDIS_URL") else IN_MEMORY_LAYER})
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = f"game-{self.scope['url_route']['kwargs']['game_id']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            self.group, {"type": "relay.message", "text": text_data, "sender": self.channel_name}
        )

    async def relay_message(self, event):
        if event["sender"] != self.channel_name:  # the mover already knows its move
            await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {"websocket": URLRouter([re_path(r"^ws/games/(?P<game_id>[^/]+)/$", RelayConsumer.as_asgi())])}
)
