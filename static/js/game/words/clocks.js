// What a timed game's clocks say: a clock's face, a first move's limit, a time control spelled out.
//
// Pure functions of the clock's figures (../state/clock.js); no DOM, no socket, no timers.

import { LOW_TIME_MS } from '../state/clock.js';

// A clock's face: m:ss, and with tenths under ten seconds (0:09.3); 0:00.0 at zero.
export function clockText(ms) {
  const left = Math.max(0, ms);
  if (left < LOW_TIME_MS) {
    const tenths = Math.floor(left / 100);
    return `0:${String(Math.floor(tenths / 10)).padStart(2, '0')}.${tenths % 10}`;
  }
  const seconds = Math.floor(left / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

// Beside the clock of the side to move while its first move has a limit: "Move within 27 s".
export const firstMoveText = (ms) => `Move within ${Math.ceil(Math.max(0, ms) / 1000)} s`;

// "3+2" in full, for whoever wants it spelled out.
export function timeControlTitle(name) {
  const [minutes, increment] = String(name).split('+').map(Number);
  const base = `${minutes} min per player`;
  return increment ? `${base}, plus ${increment} s per move` : base;
}
