"""Two real daphne processes sharing a metrics directory (and an SQLite database): a scrape of
either one counts both, and a process that is gone stops counting its open sockets."""

import signal
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.servers import Daphne, prepare
from tests.wsclient import api

pytestmark = pytest.mark.timeout(120)


def scrape(daphne: Daphne) -> dict[str, float]:
    """Samples without labels, by name (loopback, no proxy: allowed by default)."""
    with urllib.request.urlopen(f"{daphne.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


async def open_socket(daphne: Daphne, game_id: str):
    ws_url = daphne.url.replace("http", "ws", 1)
    return await connect(f"{ws_url}/ws/games/{game_id}/", origin=daphne.url, open_timeout=10)


async def test_each_process_answers_for_all_of_them(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = prepare(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    first = Daphne(env, tmp_path / "first.log").start()
    second = Daphne(env, tmp_path / "second.log").start()
    sockets = []
    try:
        games = [api(first.url, "/api/games")["id"] for _ in range(2)]
        games += [api(second.url, "/api/games")["id"] for _ in range(3)]
        sockets = [await open_socket(first, games[0]), await open_socket(second, games[2])]
        for daphne in (first, second):
            seen = scrape(daphne)
            assert seen["game_games_created_total"] == 5
            assert seen["game_open_sockets"] == 2
            assert seen["game_games_in_memory"] == 2

        # Killed: nothing ran on the way out, so its live gauges stay until a process starts.
        killed_pid = second.process.pid
        second.stop(signal.SIGKILL)
        assert scrape(first)["game_open_sockets"] == 2
        second.start()  # a new process clears the files of the dead one
        seen = scrape(second)
        assert (seen["game_open_sockets"], seen["game_games_created_total"]) == (1, 5)
        assert not (metrics_dir / f"gauge_livesum_{killed_pid}.db").exists()

        # Stopped as a deploy stops it: it marks itself dead as it exits.
        stopped_pid = first.process.pid
        first.stop()
        assert not (metrics_dir / f"gauge_livesum_{stopped_pid}.db").exists()
        seen = scrape(second)
        assert (seen["game_open_sockets"], seen["game_games_in_memory"], seen["game_games_created_total"]) == (0, 0, 5)
    finally:
        for socket in sockets:
            await socket.close()
        first.stop()
        second.stop()
