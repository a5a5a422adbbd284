"""Pure game rules: no Django, no asyncio, deterministic.

A game kind plugs in by implementing :class:`games.core.rules.base.Rules`; the rest of
the server (registry, consumers, views) only speaks that small interface.
"""

from games.core.rules.base import IllegalMove, Outcome, Rules
from games.core.rules.connect_four import ConnectFour

RULES: dict[str, Rules] = {ConnectFour.kind: ConnectFour()}

__all__ = ["RULES", "ConnectFour", "IllegalMove", "Outcome", "Rules"]
