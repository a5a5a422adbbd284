// A timed game's two clocks beside the board, and its time control ("3+2").
//
// It draws the state's clocks (state/clock.js counts them down from the server's latest figure) and
// nothing else: no socket, no timers of its own (the page calls render as time passes), no
// judgement. At zero a clock shows 0:00.0 until the server's timeout says how the game ended.
// Everything changes by textContent, `hidden` and classes: the page's CSP allows no inline style.

import { LOW_TIME_MS, clockTimes } from './state/clock.js';
import { clockText, firstMoveText, timeControlTitle } from './words/clocks.js';

export function createClocks(state) {
  const $ = (id) => document.getElementById(id);
  const el = {
    section: $('clocks'),
    timeControl: $('clock-control'),
    seats: {
      1: { box: $('clock-1'), time: $('clock-time-1'), note: $('clock-note-1') },
      2: { box: $('clock-2'), time: $('clock-time-2'), note: $('clock-note-2') },
    },
  };

  const setText = (node, text) => {
    if (node.textContent !== text) node.textContent = text;
  };

  function render(now = Date.now()) {
    if (!el.section) return;
    const times = clockTimes(state, now);
    el.section.hidden = !times;
    if (!times) return;
    setText(el.timeControl, times.timeControl);
    el.timeControl.title = timeControlTitle(times.timeControl);
    for (const seat of [1, 2]) {
      const { box, time, note } = el.seats[seat];
      const left = times.left[seat];
      const toMove = times.running === seat;
      const firstMove = toMove && times.firstMove !== null;
      setText(time, clockText(left));
      setText(note, firstMove ? firstMoveText(times.firstMove) : '');
      note.hidden = !firstMove;
      box.classList.toggle('clock-running', toMove && !firstMove);
      box.classList.toggle('clock-first-move', firstMove);
      box.classList.toggle('clock-low', left < LOW_TIME_MS);
      box.classList.toggle('clock-out', left <= 0);
      box.classList.toggle('clock-yours', state.seat === seat);
    }
  }

  return { render };
}
