// How a game ended, in words for this reader: a win, a loss, a draw, a resignation, a timeout, an
// abandoned or aborted game. The status line and the news both say it.
//
// Pure functions of the state (../state/) and of what happened; no DOM, no socket, no timers.

import { otherSeat } from '../state/state.js';
import { Who, who } from './names.js';

// How a game ended, in words for this reader. Takes the fields of an event or of the state.
export function outcomeText(state, { status, result, winner, actor = null, reason = '', code = '' }) {
  const me = state.seat;
  if (status === 'aborted') {
    if (code === 'expired') {
      return me
        ? 'Nobody joined in time, so this game has expired. Start a new game to play.'
        : 'This game has expired: nobody joined in time.';
    }
    if (code === 'first_move') {
      return reason ? `Game called off: ${reason}` : 'Game called off: a first move did not come in time.';
    }
    if (actor && actor === me) return 'You aborted the game.';
    if (actor) return `${Who(state, actor)} aborted the game.`;
    return reason ? `Game aborted: ${reason}` : 'Game aborted.';
  }
  if (!winner) return 'Draw: the board is full.';
  const loser = otherSeat(winner);
  const [Winner, winnerName, Loser] = [Who(state, winner), who(state, winner), Who(state, loser)];
  if (result === 'resigned') {
    if (me === winner) return `You win! ${Loser} resigned.`;
    if (me === loser) return `You resigned — ${winnerName} wins.`;
    return `${Loser} resigned — ${winnerName} wins.`;
  }
  if (result === 'timeout') {
    if (me === winner) return `You win on time! ${Loser} ran out of time.`;
    if (me === loser) return `You lost on time — ${winnerName} wins.`;
    return `${Loser} lost on time — ${winnerName} wins on time.`;
  }
  if (result === 'abandoned') {
    if (me === winner) return `You win! ${Loser} left the game.`;
    if (me === loser) return `You left the game — ${winnerName} wins.`;
    return `${Loser} left the game — ${winnerName} wins.`;
  }
  if (me === winner) return 'You win!';
  return me ? `${Winner} wins. Good game!` : `${Winner} wins!`;
}
