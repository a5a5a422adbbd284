// The game's HTTP side, beside its socket (protocol.js): the game page's path, and the game's
// whole event log from the events API (docs/protocol.md).
//
// No DOM, no page state, no words for people.

// The game page's path; its watch link adds "watch".
export const gamePath = (gameId) => `/g/${encodeURIComponent(gameId)}/`;

// The game's whole event log, from the events API (for a move list the welcome could not fill).
export async function fetchEvents(gameId) {
  const response = await fetch(`/api/games/${encodeURIComponent(gameId)}/events`, {
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()).events;
}
