// The board: draws the discs, the winning line and the column cursor from the state, lets a
// new disc fall, and turns clicks, taps and keys into "play this column".
//
// It never changes the game and never sends anything: a chosen column goes to onPlay, and the
// disc appears only when the server's event has been folded into the state.

import { canPlay, freeCells } from './state/questions.js';
import { COLUMNS, ROWS } from './state/state.js';
import { columnLabel } from './words/board.js';

// root: the #board element (its columns carry data-column, its cells data-cell="column,row").
export function createBoard(root, state, { onPlay }) {
  const columns = [...root.querySelectorAll('[data-column]')];
  // cells[c][r], row 0 at the bottom, as the server counts them.
  const cells = Array.from({ length: COLUMNS }, (_, c) =>
    Array.from({ length: ROWS }, (_, r) => root.querySelector(`[data-cell="${c},${r}"]`)),
  );
  let cursor = 3; // keyboard column cursor
  let hover = null; // column under the mouse (tracked in JS, as :hover sticks after a tap on touch screens)

  function render() {
    const playable = canPlay(state);
    root.dataset.canPlay = String(playable);
    root.dataset.you = state.seat ?? '';
    const winning = new Set(state.line.map(([c, r]) => `${c},${r}`));
    root.classList.toggle('has-win', winning.size > 0);

    for (let c = 0; c < COLUMNS; c++) {
      const free = freeCells(state, c);
      const column = columns[c];
      column.setAttribute('aria-label', columnLabel(state, c));
      column.setAttribute('aria-disabled', String(!playable || free === 0));
      column.classList.toggle('cursor', c === cursor);
      column.classList.toggle('hover', c === hover);
      for (let r = 0; r < ROWS; r++) {
        const cell = cells[c][r];
        const seat = state.board[r][c];
        if (seat) cell.dataset.seat = String(seat);
        else delete cell.dataset.seat;
        cell.classList.toggle('win', winning.has(`${c},${r}`));
        cell.classList.toggle('next', r === ROWS - free);
        cell.classList.toggle('last', !!state.last && state.last[0] === c && state.last[1] === r);
      }
    }
    root.setAttribute('aria-activedescendant', columns[cursor].id);
  }

  // Let a new disc fall from the top of its column to its cell.
  function drop(column, row) {
    const disc = cells[column][row].querySelector('.disc');
    const fall = columns[column].getBoundingClientRect().top - disc.getBoundingClientRect().top - disc.offsetHeight;
    const rowsFallen = ROWS - row;
    disc.style.transition = 'none';
    disc.style.transform = `translateY(${fall}px)`;
    void disc.offsetHeight; // commit the start position before the transition begins
    disc.style.transition = '';
    disc.style.setProperty('--fall', `${Math.round(110 * Math.sqrt(rowsFallen + 1))}ms`); // gravity: time grows like √distance
    disc.style.transform = '';
  }

  for (const column of columns) {
    const index = Number(column.dataset.column);
    // Keep focus on the board (not the column button) so the arrow keys keep working.
    column.addEventListener('mousedown', (event) => event.preventDefault());
    column.addEventListener('click', () => {
      cursor = index;
      onPlay(index);
    });
    column.addEventListener('pointerenter', (event) => {
      if (event.pointerType !== 'mouse') return;
      hover = index;
      render();
    });
  }
  root.addEventListener('pointerleave', () => {
    hover = null;
    render();
  });

  root.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    let handled = true;
    if (event.key === 'ArrowLeft') cursor = Math.max(0, cursor - 1);
    else if (event.key === 'ArrowRight') cursor = Math.min(COLUMNS - 1, cursor + 1);
    else if (event.key === 'Home') cursor = 0;
    else if (event.key === 'End') cursor = COLUMNS - 1;
    else if (/^[1-7]$/.test(event.key)) cursor = Number(event.key) - 1;
    else if (event.key === 'Enter' || event.key === ' ') onPlay(cursor);
    else handled = false;
    if (handled) {
      event.preventDefault();
      render();
    }
  });

  return { render, drop };
}
