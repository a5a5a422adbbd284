// The move list: every move in seq order, each with its disc, and below an empty list why it is
// empty (no moves yet, loading, or the earlier moves could not be loaded).

import { NAMES } from '../words/names.js';

export function createMoveList(state) {
  const $ = (id) => document.getElementById(id);
  const el = {
    moves: $('moves'),
    movesEmpty: $('moves-empty'),
  };

  let listed = []; // the seqs of the moves in the list, in order

  function moveItem(event) {
    const item = document.createElement('li');
    item.dataset.seq = String(event.seq);
    const disc = document.createElement('span');
    disc.className = 'mini-disc';
    disc.dataset.seat = String(event.seat);
    disc.setAttribute('aria-hidden', 'true');
    item.append(disc, `${NAMES[event.seat]}: column ${event.column + 1}`);
    return item;
  }

  // List the state's moves in seq order: new ones are appended, and the list is rebuilt only
  // when a move arrived out of order (from the events API) or the state started afresh.
  function show() {
    const ordered = [...state.moves.values()].sort((a, b) => a.seq - b.seq);
    const appending = listed.length <= ordered.length && listed.every((seq, i) => ordered[i].seq === seq);
    if (appending) el.moves.append(...ordered.slice(listed.length).map(moveItem));
    else el.moves.replaceChildren(...ordered.map(moveItem));
    listed = ordered.map((event) => event.seq);

    // Below an empty list: why it is empty.
    const texts = { loading: 'Loading moves…', failed: 'The earlier moves could not be loaded.' };
    el.movesEmpty.textContent = texts[state.history] || 'No moves yet.';
    el.movesEmpty.hidden = state.moves.size > 0 && !state.history;
    el.moves.scrollTop = el.moves.scrollHeight;
  }

  return { show };
}
