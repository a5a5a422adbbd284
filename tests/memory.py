"""A process forgetting everything it keeps in memory, as a restart would (the database remembers)."""

from games.live import computer, liveness, lobby, presence, registry, timers
from games.storage import journal


def forget_the_process() -> None:
    """The live games and their timers, the outage check, presence, this process's identity, the
    lobby, the computer's turns and the journal, each module's ``reset``."""
    timers.reset()  # before the registry forgets the games whose timers it disarms
    registry.reset()
    for module in (presence, liveness, lobby, computer, journal):
        module.reset()
