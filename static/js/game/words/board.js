// What the board says to a screen reader: each column's label, with its free cells.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.

import { freeCells } from '../state/questions.js';

export function columnLabel(state, column) {
  const free = freeCells(state, column);
  const cellWord = free === 1 ? 'cell' : 'cells';
  return `Column ${column + 1}, ${free ? `${free} free ${cellWord}` : 'full'}`;
}
