// The away banner: while a seat is gone during play, the countdown to claiming the win, and the
// Claim button (a player's only; it reports the press to onAction as 'claim_win').
//
// It draws the state (../state/presence.js keeps the deadlines) in the words of ../words/away.js.

import { awayView } from '../words/away.js';

export function createAwayPanel(state, { onAction }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    awayPanel: $('away-panel'),
    awayIcon: document.querySelector('#away-panel .away-icon'),
    awayMessage: $('away-message'),
    awayDetail: $('away-detail'),
    claimButton: $('claim-button'),
  };

  function render() {
    const view = awayView(state);
    el.awayPanel.hidden = !view;
    el.claimButton.hidden = !view || !state.seat;
    if (!view) return;
    if (view.seat) el.awayIcon.dataset.seat = String(view.seat);
    else delete el.awayIcon.dataset.seat;
    if (el.awayMessage.textContent !== view.message) el.awayMessage.textContent = view.message;
    if (el.awayDetail.textContent !== view.detail) el.awayDetail.textContent = view.detail;
    el.claimButton.disabled = !view.claimable || !!state.busy;
  }

  el.claimButton.addEventListener('click', () => onAction('claim_win'));

  return { render };
}
