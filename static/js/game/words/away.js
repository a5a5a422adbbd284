// What the away banner says while a seat is gone during play: who left, when the win can be
// claimed, when the game ends by itself.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.

import { awayShown, secondsUntil } from '../state/presence.js';
import { otherSeat } from '../state/state.js';
import { NAMES, duration, who } from './names.js';

// What the away banner says, or null when nobody is away (or we cannot know: offline).
export function awayView(state, now = Date.now()) {
  if (state.status !== 'playing' || !state.connected) return null;
  if (state.seat) {
    const other = otherSeat(state.seat);
    if (!awayShown(state, other, now)) return null;
    const away = state.away[other];
    const name = NAMES[other];
    const claimIn = secondsUntil(away.claimAt, now);
    const forfeitIn = secondsUntil(away.forfeitAt, now);
    // Someone we never saw here (we arrived after they left, or a rematch they have not opened yet) is just away.
    const lead = state.seenOnline[other] ? `${name} left` : `${name} is away`;
    return {
      message: claimIn ? `${lead} — you can claim the win in ${duration(claimIn)}` : `${lead} — you can claim the win now`,
      detail: forfeitIn
        ? `If ${name} doesn’t come back, the game ends automatically in ${duration(forfeitIn)} and you win.`
        : 'The game is ending…',
      claimable: claimIn === 0,
      seat: other,
    };
  }
  const gone = [1, 2].filter((seat) => awayShown(state, seat, now));
  if (gone.length === 0) return null;
  if (gone.length === 2) {
    const forfeitIn = secondsUntil(Math.min(state.away[1].forfeitAt, state.away[2].forfeitAt), now);
    return {
      message: 'Both players left',
      detail: forfeitIn ? `If neither comes back, the game is called off in ${duration(forfeitIn)}.` : 'The game is ending…',
      seat: null,
    };
  }
  const [seat] = gone;
  const away = state.away[seat];
  const claimIn = secondsUntil(away.claimAt, now);
  const forfeitIn = secondsUntil(away.forfeitAt, now);
  const stays = who(state, otherSeat(seat));
  return {
    message: `${NAMES[seat]} left — ${stays} can claim the win ${claimIn ? `in ${duration(claimIn)}` : 'now'}`,
    detail: forfeitIn
      ? `If ${NAMES[seat]} doesn’t come back, the game ends automatically in ${duration(forfeitIn)}.`
      : 'The game is ending…',
    seat,
  };
}
