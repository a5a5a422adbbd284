// Questions about the state: may this column be played (and if not, why), may I resign, abort
// or ask for a rematch, how did the game end for me, are we connected.
//
// Pure functions of the state (state.js): no DOM, no socket, no words for people.

import { OVER, ROWS } from './state.js';

export function freeCells(state, column) {
  let free = 0;
  for (let r = 0; r < ROWS; r++) if (!state.board[r][column]) free++;
  return free;
}

function discCount(state) {
  let count = 0;
  for (const row of state.board) for (const cell of row) if (cell) count++;
  return count;
}

export const canPlay = (state) =>
  state.connected && state.status === 'playing' && state.seat !== null && state.turn === state.seat && !state.pending;

// Why this column cannot be played now ('' when it can): offline, watching, waiting, over, turn or full.
export function moveRefusal(state, column) {
  if (!state.connected) return 'offline';
  if (state.seat === null) return 'watching';
  if (state.status === 'waiting') return 'waiting';
  if (OVER.has(state.status)) return 'over';
  if (state.turn !== state.seat) return 'turn';
  if (freeCells(state, column) === 0) return 'full';
  return '';
}

export const abortAllowed = (state) =>
  state.seat !== null && (state.status === 'waiting' || (state.status === 'playing' && discCount(state) < 2));
// Until both have moved, calling the game off is the kinder choice; Resign takes over after that.
export const resignAllowed = (state) => state.seat !== null && state.status === 'playing' && discCount(state) >= 2;

export const rematchAllowed = (state) => state.seat !== null && state.twoPlayers && OVER.has(state.status);

export const rematchPossible = (state) =>
  rematchAllowed(state) &&
  state.connected &&
  !state.busy &&
  !state.rematchId &&
  !state.rematchOffers.has(state.seat);

// For styling the banner: "win" for the winner, "loss", "draw", "aborted", or "" while playing.
export function resultKind(state) {
  if (state.status === 'aborted') return 'aborted';
  if (state.status !== 'finished') return '';
  if (!state.winner) return 'draw';
  if (!state.seat) return 'win'; // spectators just see who won
  return state.seat === state.winner ? 'win' : 'loss';
}

export function connectionState(state) {
  if (state.gone) return 'gone';
  if (state.connected) return 'connected';
  return state.welcomed ? 'reconnecting' : 'connecting';
}
