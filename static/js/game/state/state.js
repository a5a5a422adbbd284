// The game as this page knows it: one plain object, folded from the server's welcome and
// events (fold.js) and presence (presence.js), and asked questions (questions.js, clock.js).
//
// No DOM, no socket, no words for people: protocol.js brings what the state is folded from,
// words/ says it, board.js, clocks.js and panels/ draw it. A fold changes the state and returns
// its news (plain objects: what happened that someone may want to hear) for the page to say.
// This module depends on no other, so every other module can use it.

export const COLUMNS = 7;
export const ROWS = 6;
export const OVER = new Set(['finished', 'aborted']);

export const otherSeat = (seat) => 3 - seat;
const emptyBoard = () => Array.from({ length: ROWS }, () => Array(COLUMNS).fill(0));

export function createState({ seat = null, status = 'waiting', claimAfterMs = null } = {}) {
  return {
    // What the server told us.
    seat,
    claimAfterMs, // the server's grace before a win can be claimed: how long a seat has been away follows from claim_in
    seq: 0, // the newest seq applied
    welcomed: false, // true once the first welcome arrived
    status,
    result: null, // null while playing; win, draw, resigned, abandoned or aborted
    turn: null,
    winner: null,
    line: [],
    reason: '', // why an aborted game was aborted, for people
    abortCode: '', // the same for machines: player, operator, both_left or expired ('' from older servers)
    abortedBy: null, // the seat that aborted it, or null for the server or an operator
    twoPlayers: false, // someone took the second seat at some point (a rematch needs an opponent)
    freeSeat: 2, // while the game waits, the seat its creator left free (the welcome says which)
    computer: null, // the computer opponent, {seat, level, name}, or null when both players are people
    board: emptyBoard(), // board[row][column], row 0 at the bottom
    last: null, // [column, row] of the newest disc
    moves: new Map(), // seq -> move event, for the move list (each once)
    history: '', // the move list from the events API: '' (nothing to fetch), 'loading' or 'failed'
    players: { 1: false, 2: false },
    seenOnline: { 1: false, 2: false }, // "is back" only for someone we saw before
    away: { 1: null, 2: null }, // a seat gone during play: {since, claimAt, forfeitAt, shown, announced, claimAnnounced}
    spectators: 0,
    rematchOffers: new Set(),
    rematchId: null,
    spokenSeq: 0, // newest event already reported as news (so nothing is said twice)
    // A timed game's clocks as the server last gave them, and when we heard that (null: untimed):
    // {timeControl, initialMs, incrementMs, remaining: {1, 2}, running, firstMoveIn, at}
    clock: null,
    lowTimeSaid: { 1: false, 2: false }, // "little time left" is said once per clock per game
    firstMoveSaid: { 1: false, 2: false }, // "move within N s" is said once per seat

    // The page's side of the conversation.
    connected: false,
    gone: false, // the server said the game does not exist
    closed: '', // why the server closed the connection ('restarting', 'rate_limited', 'too_many_connections'), until the next welcome
    pending: false, // a move is on its way; wait for the server before sending another
    busy: '', // resign, abort, claim or rematch was sent; wait for the answer
    watchingBecause: '', // why a would-be player only watches: 'seat_taken' or 'bad_token'
    startingRematch: false,
  };
}
