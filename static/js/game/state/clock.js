// A timed game's clocks: where they stand now, counted down from the server's latest figure,
// and the news of a clock running low or a first move's limit.
//
// The state holds the server's figures (fold.js takes them in); nothing here judges a timeout:
// at zero we wait for the server's.

import { OVER } from './state.js';

export const LOW_TIME_MS = 10000; // under this, a clock shows tenths and warns

// Where a timed game's clocks stand at `now`, counted down from the server's latest figure
// (never below zero: at zero we wait for the server's timeout). null for an untimed game.
// left: each seat's main clock; running: the seat to move while a clock runs, else null;
// firstMove: while the side to move is on its first-move limit, what is left of it (its main
// clock does not run meanwhile), else null.
export function clockTimes(state, now = Date.now()) {
  const clock = state.clock;
  if (!clock) return null;
  const live = clock.running !== null && !OVER.has(state.status);
  const elapsed = live ? Math.max(0, now - clock.at) : 0;
  const left = { 1: clock.remaining[1], 2: clock.remaining[2] };
  let firstMove = null;
  if (clock.firstMoveIn !== null) firstMove = Math.max(0, clock.firstMoveIn - elapsed);
  else if (live) left[clock.running] = Math.max(0, left[clock.running] - elapsed);
  return { timeControl: clock.timeControl, left, running: live ? clock.running : null, firstMove };
}

// As the clock moves on: say once per clock when it runs low, and once to a player that its
// first move has a limit. The "said" flags live in the state.
export function clockNews(state, now = Date.now()) {
  const times = clockTimes(state, now);
  if (!times || state.status !== 'playing' || !times.running) return [];
  const seat = times.running;
  if (times.firstMove !== null) {
    if (state.seat !== seat || state.firstMoveSaid[seat] || !times.firstMove) return [];
    state.firstMoveSaid[seat] = true;
    return [{ type: 'first_move', seat, seconds: Math.ceil(times.firstMove / 1000) }];
  }
  if (times.left[seat] >= LOW_TIME_MS || state.lowTimeSaid[seat]) return [];
  state.lowTimeSaid[seat] = true;
  return [{ type: 'low_time', seat }];
}
