// Why something did not happen, and the page's fixed sayings: why a move sends nothing, the
// notice while we are not connected, why a would-be player only watches, the lines said as the
// connection comes and goes, and our words for some of the server's refusals.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.

import { who } from './names.js';

// Why a click on a column sends nothing (see moveRefusal in ../state/questions.js).
export function refusalText(state, refusal, column) {
  switch (refusal) {
    case 'offline':
      return 'Not connected yet; wait a moment.';
    case 'watching':
      return 'You are watching; only the two players can drop discs.';
    case 'waiting':
      return 'Wait for a second player to join.';
    case 'over':
      return 'The game is over.';
    case 'turn':
      return `It is ${who(state, state.turn)}’s turn.`;
    case 'full':
      return `Column ${column + 1} is full.`;
    default:
      return '';
  }
}

// The notice while we are not connected ('' when connected, or before the first welcome).
export function connectionNotice(state, { offline = false } = {}) {
  if (state.gone || state.connected || !state.welcomed) return '';
  if (state.closed === 'restarting') return 'Server restarting — reconnecting…';
  if (state.closed === 'rate_limited') return 'Too many messages — reconnecting in a moment…';
  if (state.closed === 'too_many_connections') return 'Too many connections from your network — trying again shortly…';
  if (offline) return 'You are offline — the game reconnects when the network is back.';
  return 'Connection lost — reconnecting…';
}

export const WATCHING_BECAUSE = {
  seat_taken: 'Someone else took the free seat; you are watching.',
  bad_token: 'Your seat could not be restored; you are watching.',
};

export const SAYINGS = {
  gone: 'This game does not exist.',
  lost: 'Connection lost. Reconnecting…',
  reconnected: 'Reconnected.',
  refused: 'The server refused that.',
  startingRematch: 'Starting the rematch…',
  timeGivenBack: 'Time given back after a server restart.',
};

// Words of our own for some of the server's refusals (the server's message otherwise).
export const ERRORS = {
  out_of_time: 'Your time ran out before your move arrived; the game is over.',
};
