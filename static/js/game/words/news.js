// What a screen reader hears for each piece of news a fold returns: an event (a join, a move, the
// end, a rematch offer), someone leaving or coming back, a claimable win, a clock running low.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.

import { OVER, otherSeat } from '../state/state.js';
import { NAMES, Who, duration, who } from './names.js';
import { SAYINGS } from './notices.js';
import { outcomeText } from './outcome.js';

// What a screen reader hears for an event (and for a move, whose turn is next).
function describe(state, event) {
  const outcome = () => outcomeText(state, { ...event, actor: event.type === 'aborted' ? event.seat : null });
  switch (event.type) {
    case 'joined':
      return `${NAMES[event.seat ?? 2]} joined. ${state.seat === 1 ? 'Your turn.' : 'Red to move.'}`;
    case 'move': {
      let text = `${Who(state, event.seat)} played column ${event.column + 1}.`;
      if (OVER.has(event.status)) text += ` ${outcome()}`;
      else if (state.seat && event.turn === state.seat) text += ' Your turn.';
      return text;
    }
    case 'resigned':
    case 'abandoned':
    case 'timeout':
    case 'aborted':
      return outcome();
    case 'clock_credit':
      return SAYINGS.timeGivenBack;
    case 'rematch_offered':
      if (event.seat === state.seat) return `Rematch offered. Waiting for ${who(state, otherSeat(event.seat))}.`;
      return state.seat
        ? `${Who(state, event.seat)} offers a rematch. Press Accept rematch to play again.`
        : `${Who(state, event.seat)} offers a rematch.`;
    default:
      return ''; // created; rematch is announced as it starts
  }
}

// The words for one piece of news from a fold in state/ ('' when there is nothing to say).
export function newsText(state, news) {
  const name = NAMES[news.seat];
  switch (news.type) {
    case 'event':
      return describe(state, news.event);
    case 'left':
      return `${name} left.`;
    case 'back':
      return `${name} is back.`;
    case 'away': {
      const left = state.seenOnline[news.seat] ? `${name} left.` : `${name} is away.`;
      if (!state.seat) return left;
      if (news.claimIn) return `${left} If they don’t come back, you can claim the win in ${duration(news.claimIn)}.`;
      return `${left} You can claim the win.`;
    }
    case 'claimable':
      return 'You can claim the win now.';
    case 'low_time':
      return news.seat === state.seat ? 'You have less than 10 seconds left.' : `${Who(state, news.seat)} has less than 10 seconds left.`;
    case 'first_move':
      return `Make your first move within ${news.seconds} seconds, or the game is called off.`;
    default:
      return '';
  }
}
