"""This process's live runtime: the registry (the meeting point, which applies every action),
the game in memory, and what runs around it: presence and this process among the others, the
clock timers, the heal under the channel layer, the sockets' bookkeeping, abandonment, the
computer's turns, Play now's notices, the lobby's lists, and the sweeper that times it all."""
