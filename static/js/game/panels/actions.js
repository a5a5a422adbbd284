// Resign and Abort: the first click arms the button, a second one within a few seconds sends (by
// onAction); a pause, Escape or the action becoming impossible disarms it.
//
// Only a player sees them, and only the one the state allows (../state/questions.js): Abort until
// both have moved, Resign after. The confirming hint is said by announce (the live region).

import { abortAllowed, resignAllowed } from '../state/questions.js';

const CONFIRM_MS = 5000; // a second click within this confirms Resign or Abort

const ACTION_LABELS = {
  abort: { idle: 'Abort game', armed: 'Really abort?' },
  resign: { idle: 'Resign', armed: 'Really resign?' },
};

export function createActions(state, { onAction, announce }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    actions: $('game-actions'),
    abortButton: $('abort-button'),
    resignButton: $('resign-button'),
  };

  let confirm = null; // 'resign' or 'abort' while the button waits for its confirming click
  let confirmTimer = 0;

  function disarm() {
    clearTimeout(confirmTimer);
    confirmTimer = 0;
    confirm = null;
  }

  function render() {
    const buttons = { abort: el.abortButton, resign: el.resignButton };
    const allowed = { abort: abortAllowed(state), resign: resignAllowed(state) };
    if (confirm && !allowed[confirm]) disarm();
    for (const [action, button] of Object.entries(buttons)) {
      const armed = confirm === action;
      button.hidden = !allowed[action];
      button.disabled = !state.connected || !!state.busy;
      button.dataset.armed = String(armed);
      const label = ACTION_LABELS[action][armed ? 'armed' : 'idle'];
      if (button.textContent !== label) button.textContent = label;
    }
    el.actions.hidden = !allowed.abort && !allowed.resign;
  }

  function confirmAction(action, event) {
    // The second click of a double-click is not a decision.
    if (event.detail > 1) return;
    if (confirm !== action) {
      disarm();
      confirm = action;
      confirmTimer = setTimeout(() => {
        disarm();
        render();
      }, CONFIRM_MS);
      const verb = action === 'resign' ? 'resign' : 'abort the game';
      announce(`Press the button again within ${CONFIRM_MS / 1000} seconds to ${verb}.`);
      render();
      return;
    }
    disarm();
    onAction(action);
  }

  el.resignButton.addEventListener('click', (event) => confirmAction('resign', event));
  el.abortButton.addEventListener('click', (event) => confirmAction('abort', event));
  for (const button of [el.resignButton, el.abortButton]) {
    button.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && confirm) {
        disarm();
        render();
      }
    });
  }

  return { render, disarm };
}
