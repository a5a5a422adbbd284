// The rematch, once the game is over: the Rematch button (offer, or accept the other's offer, by
// onAction), the note saying who offered, and the way to the rematch once it started. Play again
// steps back beside it while a rematch can be had.

import { gamePath } from '../http.js';
import { rematchAllowed, rematchPossible } from '../state/questions.js';
import { OVER, otherSeat } from '../state/state.js';
import { Who, who } from '../words/names.js';

export function createRematch(state, { onAction }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    rematchNote: $('rematch-note'),
    rematchButton: $('rematch-button'),
    playAgain: $('play-again'),
  };

  function render() {
    const over = OVER.has(state.status);
    const button = el.rematchButton;
    const mine = state.seat !== null && state.rematchOffers.has(state.seat);
    const theirs = [...state.rematchOffers].find((seat) => seat !== state.seat) ?? null;

    // Against the computer, Play again is the rematch: one button, not two doing the same.
    button.hidden = !rematchAllowed(state) || !!state.rematchId || !!state.computer;
    // aria-disabled rather than disabled: the button keeps keyboard focus while it waits.
    button.setAttribute('aria-disabled', String(!rematchPossible(state)));
    const label = mine ? 'Rematch offered' : theirs ? 'Accept rematch' : 'Rematch';
    if (button.textContent !== label) button.textContent = label;
    // The rematch, when there can be one, is the main way on; Play again steps back beside it.
    el.playAgain.classList.toggle('button-primary', button.hidden || mine);

    let note = { text: '' };
    if (over && state.rematchId) {
      note = state.startingRematch
        ? { text: 'Starting the rematch…' }
        : { text: 'The rematch has started. ', link: gamePath(state.rematchId) };
    } else if (over && mine) {
      note = { text: `Rematch offered — waiting for ${who(state, otherSeat(state.seat))}` };
    } else if (over && theirs) {
      note = { text: `${Who(state, theirs)} offers a rematch`, tone: state.seat ? 'invite' : '' };
    }
    // Rebuilt only when it changes, so a focused link is not pulled from under the keyboard.
    const key = JSON.stringify(note);
    if (el.rematchNote.dataset.key === key) return;
    el.rematchNote.dataset.key = key;
    el.rematchNote.dataset.tone = note.tone || '';
    el.rematchNote.replaceChildren(note.text);
    if (note.link) {
      const link = document.createElement('a');
      link.href = note.link;
      link.textContent = 'Go to the rematch';
      el.rematchNote.append(link);
    }
    el.rematchNote.hidden = !note.text;
  }

  el.rematchButton.addEventListener('click', () => {
    if (rematchPossible(state)) onAction('rematch');
  });

  return { render };
}
