"""Shared fixtures: a clean meeting point and channel layer per test, and socket helpers."""

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connection, connections

from config.asgi import application
from games.live import seeking, sweeper
from games.storage import journal
from tests.memory import forget_the_process

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(scope="session", autouse=True)
def database_connections_closed_at_the_end(django_db_setup, django_db_blocker):
    """The journal thread keeps its connection, tests' own async ORM calls leave one on asgiref's
    shared thread (no request ends there to close it), and PostgreSQL keeps a pool: all must let
    go before the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        journal.close()
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        if hasattr(connection, "close_pool"):
            connection.close_pool()


@pytest.fixture(autouse=True)
def clean_registry():
    """Every test starts with no live games, no seekers' sockets and an empty channel layer."""
    forget_everything()
    yield
    forget_everything()


def forget_everything() -> None:
    """The process's memory (tests/memory.py), the seekers' sockets, the sweeper and the channel layer."""
    forget_the_process()
    seeking.reset()
    sweeper.stop()
    channel_layers.backends.clear()


class Socket:
    """A WebSocket client of the real ASGI application, with protocol-level helpers."""

    def __init__(self, game_id: str):
        self.game_id = game_id
        self.communicator = WebsocketCommunicator(application, f"/ws/games/{game_id}/", headers=[ORIGIN])

    async def open(self):
        connected, _ = await self.communicator.connect()
        assert connected
        return self

    async def send(self, **message):
        await self.communicator.send_json_to(message)

    async def send_raw(self, text=None, data=None):
        await self.communicator.send_to(text_data=text, bytes_data=data)

    async def receive(self, timeout=2):
        return await self.communicator.receive_json_from(timeout=timeout)

    async def receive_type(self, *types, timeout=2):
        """The next message of one of ``types``, skipping presence updates."""
        while True:
            message = await self.receive(timeout)
            if message["type"] in types:
                return message
            assert message["type"] == "presence", f"expected {types}, got {message}"

    async def hello(self, token=None, last_seq=None):
        message = {"type": "hello"}
        if token is not None:
            message["token"] = token
        if last_seq is not None:
            message["last_seq"] = last_seq
        await self.send(**message)
        return await self.receive_type("welcome")

    async def nothing_more(self):
        """True when nothing but presence updates is waiting."""
        while not await self.communicator.receive_nothing(timeout=0.05):
            message = await self.receive()
            if message["type"] != "presence":
                return False
        return True

    async def close(self):
        await self.communicator.disconnect()


@pytest.fixture
async def sockets():
    """Open sockets to games; all are closed at the end of the test."""
    opened = []

    async def open_socket(game_id):
        socket = await Socket(game_id).open()
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.close()
