from django.apps import AppConfig


class GamesConfig(AppConfig):
    name = "games"
    verbose_name = "Games"

    def ready(self):
        """Wire what reacts to the registry's changes to its hooks (games/live/registry.py): the clock
        timers and the computer. The registry never calls them by name, so neither is imported by it."""
        from games.live import computer, timers

        timers.install()
        computer.install()
