// What the page says, in English: the status line, the players, the away banner, what a
// screen reader hears for each piece of news, and why a move or a connection failed.
//
// Pure functions of the state (state/) and of what happened; no DOM, no socket, no timers.
// A panel's own controls (button labels, the rematch note) keep their words beside them.

import { LOW_TIME_MS } from './state/clock.js';
import { awayShown, secondsUntil } from './state/presence.js';
import { freeCells } from './state/questions.js';
import { OVER, otherSeat } from './state/state.js';

export const NAMES = { 1: 'Red', 2: 'Yellow' };

const isComputer = (state, seat) => Boolean(state.computer) && state.computer.seat === seat;

// A seat as a sentence names it: its colour, or "the computer" in a game against it, so every
// line about the computer's seat calls it the same (who: inside a sentence, Who: opening one).
export const who = (state, seat) => (isComputer(state, seat) ? 'the computer' : NAMES[seat]);
export const Who = (state, seat) => (isComputer(state, seat) ? 'The computer' : NAMES[seat]);

// The computer's seat as the players list shows it: "Computer · level 3, Club player".
export function computerText(computer) {
  return `Computer · level ${computer.level}, ${computer.name}`;
}

export function roleText(state) {
  if (state.seat === 1) return 'You are Red (seat 1)';
  if (state.seat === 2) return 'You are Yellow (seat 2)';
  return 'You are watching';
}

// How a game ended, in words for this reader. Takes the fields of an event or of the state.
function outcomeText(state, { status, result, winner, actor = null, reason = '', code = '' }) {
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

export function columnLabel(state, column) {
  const free = freeCells(state, column);
  const cellWord = free === 1 ? 'cell' : 'cells';
  return `Column ${column + 1}, ${free ? `${free} free ${cellWord}` : 'full'}`;
}

export const CONNECTION_LABELS = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  gone: 'Disconnected',
};

// "42 s" under a minute, then whole minutes rounded up ("10 min").
function duration(seconds) {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

// ----- Clocks ---------------------------------------------------------------------------------

// A clock's face: m:ss, and with tenths under ten seconds (0:09.3); 0:00.0 at zero.
export function clockText(ms) {
  const left = Math.max(0, ms);
  if (left < LOW_TIME_MS) {
    const tenths = Math.floor(left / 100);
    return `0:${String(Math.floor(tenths / 10)).padStart(2, '0')}.${tenths % 10}`;
  }
  const seconds = Math.floor(left / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

// Beside the clock of the side to move while its first move has a limit: "Move within 27 s".
export const firstMoveText = (ms) => `Move within ${Math.ceil(Math.max(0, ms) / 1000)} s`;

// "3+2" in full, for whoever wants it spelled out.
export function timeControlTitle(name) {
  const [minutes, increment] = String(name).split('+').map(Number);
  const base = `${minutes} min per player`;
  return increment ? `${base}, plus ${increment} s per move` : base;
}

// What the away banner says, or null when nobody is away (or we cannot know: offline).
export function awayView(state, now = Date.now()) {
  if (state.status !== 'playing' || !state.connected) return null;
  if (state.seat) {
    const other = otherSeat(state.seat);
    if (!awayShown(state, other, now)) return null;
    const away = state.away[other];
    const name = NAMES[other];
    const claimIn = secondsUntil(away.claimAt, now);
    const forfeitIn = secondsUntil(away.forfeitAt, now);
    // Someone we never saw here (we arrived after they left, or a rematch they have not opened yet) is just away.
    const lead = state.seenOnline[other] ? `${name} left` : `${name} is away`;
    return {
      message: claimIn ? `${lead} — you can claim the win in ${duration(claimIn)}` : `${lead} — you can claim the win now`,
      detail: forfeitIn
        ? `If ${name} doesn’t come back, the game ends automatically in ${duration(forfeitIn)} and you win.`
        : 'The game is ending…',
      claimable: claimIn === 0,
      seat: other,
    };
  }
  const gone = [1, 2].filter((seat) => awayShown(state, seat, now));
  if (gone.length === 0) return null;
  if (gone.length === 2) {
    const forfeitIn = secondsUntil(Math.min(state.away[1].forfeitAt, state.away[2].forfeitAt), now);
    return {
      message: 'Both players left',
      detail: forfeitIn ? `If neither comes back, the game is called off in ${duration(forfeitIn)}.` : 'The game is ending…',
      seat: null,
    };
  }
  const [seat] = gone;
  const away = state.away[seat];
  const claimIn = secondsUntil(away.claimAt, now);
  const forfeitIn = secondsUntil(away.forfeitAt, now);
  const stays = who(state, otherSeat(seat));
  return {
    message: `${NAMES[seat]} left — ${stays} can claim the win ${claimIn ? `in ${duration(claimIn)}` : 'now'}`,
    detail: forfeitIn
      ? `If ${NAMES[seat]} doesn’t come back, the game ends automatically in ${duration(forfeitIn)}.`
      : 'The game is ending…',
    seat,
  };
}

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

// Why a click on a column sends nothing (see moveRefusal in state/questions.js).
export function refusalText(state, refusal, column) {
  switch (refusal) {
    case 'offline':
      return 'Not connected yet; wait a moment.';
    case 'watching':
      return 'You are watching; only the two players can drop discs.';
    case 'waiting':
      return 'Wait for a second player to join.';
    case 'over':
      return 'The game is over.';
    case 'turn':
      return `It is ${who(state, state.turn)}’s turn.`;
    case 'full':
      return `Column ${column + 1} is full.`;
    default:
      return '';
  }
}

// The notice while we are not connected ('' when connected, or before the first welcome).
export function connectionNotice(state, { offline = false } = {}) {
  if (state.gone || state.connected || !state.welcomed) return '';
  if (state.closed === 'restarting') return 'Server restarting — reconnecting…';
  if (state.closed === 'rate_limited') return 'Too many messages — reconnecting in a moment…';
  if (state.closed === 'too_many_connections') return 'Too many connections from your network — trying again shortly…';
  if (offline) return 'You are offline — the game reconnects when the network is back.';
  return 'Connection lost — reconnecting…';
}

export const WATCHING_BECAUSE = {
  seat_taken: 'Someone else took the free seat; you are watching.',
  bad_token: 'Your seat could not be restored; you are watching.',
};

export const SAYINGS = {
  gone: 'This game does not exist.',
  lost: 'Connection lost. Reconnecting…',
  reconnected: 'Reconnected.',
  refused: 'The server refused that.',
  startingRematch: 'Starting the rematch…',
  timeGivenBack: 'Time given back after a server restart.',
};

// Words of our own for some of the server's refusals (the server's message otherwise).
export const ERRORS = {
  out_of_time: 'Your time ran out before your move arrived; the game is over.',
};
