// What the status bar and the players list say: who you are, whose turn it is or how the game
// ended, who is here (each seat, the opponent line) and the connection's label.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.
// A panel's own controls (button labels, the rematch note) keep their words beside them.

import { OVER, otherSeat } from '../state/state.js';
import { NAMES, Who, computerText, isComputer, who } from './names.js';
import { outcomeText } from './outcome.js';

export function roleText(state) {
  if (state.seat === 1) return 'You are Red (seat 1)';
  if (state.seat === 2) return 'You are Yellow (seat 2)';
  return 'You are watching';
}

export function statusText(state) {
  if (state.gone) return 'This game does not exist.';
  if (!state.welcomed) return 'Connecting…';
  if (state.startingRematch) return 'Starting the rematch…';
  const { seat, turn } = state;
  switch (state.status) {
    case 'waiting':
      return seat ? 'Waiting for an opponent to join…' : 'Waiting for a second player…';
    case 'playing':
      if (seat === turn) return 'Your turn';
      if (isComputer(state, turn)) return 'The computer is thinking…';
      return seat ? `Waiting for ${who(state, turn)}…` : `${Who(state, turn)} to move`;
    case 'finished':
    case 'aborted':
      return outcomeText(state, {
        status: state.status,
        result: state.result,
        winner: state.winner,
        actor: state.abortedBy,
        reason: state.reason,
        code: state.abortCode,
      });
    default:
      return '';
  }
}

export function opponentText(state) {
  const { seat, players } = state;
  if (!state.connected) return state.welcomed ? 'Reconnecting to see who is here…' : 'Connecting…';
  if (!seat) {
    // Spectators see both seats in the list above; this line sums them up.
    if (state.status === 'waiting') return `Waiting for ${NAMES[state.freeSeat ?? 2]} to join`;
    if (state.computer) {
      const person = otherSeat(state.computer.seat);
      const level = state.computer.level;
      return players[person] ? `${NAMES[person]} is playing the computer (level ${level})` : `${NAMES[person]} is away`;
    }
    if (players[1] && players[2]) return 'Both players connected';
    if (!players[1] && !players[2]) return 'Both players away';
    return `${NAMES[players[1] ? 2 : 1]} is away`;
  }
  const other = otherSeat(seat);
  if (isComputer(state, other)) return `You are playing the computer (level ${state.computer.level})`;
  if (state.status === 'waiting') return 'No opponent yet';
  if (OVER.has(state.status)) return players[other] ? `${NAMES[other]} is still here` : `${NAMES[other]} has left`;
  return players[other] ? `${NAMES[other]} is connected` : `${NAMES[other]} is away`;
}

export function seatStateText(state, seat) {
  if (isComputer(state, seat)) return computerText(state.computer);
  if (seat === state.freeSeat && state.status === 'waiting') return 'seat free';
  if (!state.connected) return state.welcomed ? 'unknown' : '…'; // presence is stale while offline
  return state.players[seat] ? 'connected' : 'away';
}

export const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  gone: 'Disconnected',
};
