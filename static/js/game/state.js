// The game as this page knows it: one plain object, folded from the server's welcome and
// events, plus questions about it (may I play, may I resign, is the opponent away…).
//
// No DOM, no socket, no words for people: protocol.js brings what the state is folded from,
// words.js says it, board.js and panels.js draw it. A fold changes the state and returns its
// news (plain objects: what happened that someone may want to hear) for the page to say.
// This module depends on no other, so every other module can use it.

export const COLUMNS = 7;
export const ROWS = 6;
export const OVER = new Set(['finished', 'aborted']);

const AWAY_SHOW_AFTER_MS = 1500; // a quick reload is not worth a banner
// Someone not yet seen on this screen may still be opening the page (a Play now pairing, a
// rematch): the server counts them away from the moment the first player arrives.
const ARRIVAL_SHOW_AFTER_MS = 5000;
const CLAIM_MARGIN_MS = 250; // our clock and the server's differ a little: do not offer the claim too early
export const LOW_TIME_MS = 10000; // under this, a clock shows tenths and warns

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

// ----- Questions -----------------------------------------------------------------------------

export function freeCells(state, column) {
  let free = 0;
  for (let r = 0; r < ROWS; r++) if (!state.board[r][column]) free++;
  return free;
}

function discCount(state) {
  let count = 0;
  for (const row of state.board) for (const cell of row) if (cell) count++;
  return count;
}

export const canPlay = (state) =>
  state.connected && state.status === 'playing' && state.seat !== null && state.turn === state.seat && !state.pending;

// Why this column cannot be played now ('' when it can): offline, watching, waiting, over, turn or full.
export function moveRefusal(state, column) {
  if (!state.connected) return 'offline';
  if (state.seat === null) return 'watching';
  if (state.status === 'waiting') return 'waiting';
  if (OVER.has(state.status)) return 'over';
  if (state.turn !== state.seat) return 'turn';
  if (freeCells(state, column) === 0) return 'full';
  return '';
}

export const abortAllowed = (state) =>
  state.seat !== null && (state.status === 'waiting' || (state.status === 'playing' && discCount(state) < 2));
// Until both have moved, calling the game off is the kinder choice; Resign takes over after that.
export const resignAllowed = (state) => state.seat !== null && state.status === 'playing' && discCount(state) >= 2;

export const rematchAllowed = (state) => state.seat !== null && state.twoPlayers && OVER.has(state.status);

export const rematchPossible = (state) =>
  rematchAllowed(state) &&
  state.connected &&
  !state.busy &&
  !state.rematchId &&
  !state.rematchOffers.has(state.seat);

// For styling the banner: "win" for the winner, "loss", "draw", "aborted", or "" while playing.
export function resultKind(state) {
  if (state.status === 'aborted') return 'aborted';
  if (state.status !== 'finished') return '';
  if (!state.winner) return 'draw';
  if (!state.seat) return 'win'; // spectators just see who won
  return state.seat === state.winner ? 'win' : 'loss';
}

export function connectionState(state) {
  if (state.gone) return 'gone';
  if (state.connected) return 'connected';
  return state.welcomed ? 'reconnecting' : 'connecting';
}

export const secondsUntil = (time, now = Date.now()) => Math.max(0, Math.ceil((time - now) / 1000));

// A seat counts as away once the server says so; the banner waits a moment, so a quick
// reload by the opponent does not flash it (and shift the board) for nothing, and a little
// longer for someone who has not arrived on this screen yet.
export function awayShown(state, seat, now = Date.now(), away = state.away[seat]) {
  if (!away || seat === state.seat) return false;
  return away.shown || now - away.since >= (state.seenOnline[seat] ? AWAY_SHOW_AFTER_MS : ARRIVAL_SHOW_AFTER_MS);
}

// Since when a seat the server calls away has been gone, as the server counts it (its
// claim_in is the grace less that time). Without the grace, someone away when we arrive is
// taken to have been gone long enough for the banner.
function awaySince(state, away, first, now) {
  if (state.claimAfterMs === null) return first ? now - ARRIVAL_SHOW_AFTER_MS : now;
  return now - Math.max(0, state.claimAfterMs - away.claim_in * 1000);
}

// ----- Folding in what the server says ----------------------------------------------------------

// The server's clocks replace ours whole: we count down only from its latest figure.
function takeClock(state, clock, now) {
  if (!clock) {
    state.clock = null;
    return;
  }
  state.clock = {
    timeControl: clock.time_control,
    initialMs: clock.initial_ms,
    incrementMs: clock.increment_ms,
    remaining: { 1: clock.remaining['1'], 2: clock.remaining['2'] },
    running: clock.running ?? null,
    firstMoveIn: clock.first_move_in ?? null,
    at: now,
  };
}

function takeSummary(state, message, now = Date.now()) {
  if ('clock' in message) takeClock(state, message.clock, now);
  state.status = message.status;
  state.result = message.result ?? null;
  state.turn = message.turn ?? null;
  state.winner = message.winner ?? null;
  state.line = message.line || [];
  if (state.status !== 'waiting') state.freeSeat = null;
  // Only play proves an opponent: a game aborted while waiting never had one.
  if (state.status === 'playing' || state.status === 'finished') state.twoPlayers = true;
}

// What an event tells us beyond the summary every message repeats.
function learn(state, event) {
  switch (event.type) {
    case 'joined':
      state.twoPlayers = true;
      state.freeSeat = null;
      break;
    case 'aborted':
      state.reason = event.reason || '';
      state.abortCode = event.code || '';
      state.abortedBy = event.seat ?? null;
      break;
    case 'rematch_offered':
      state.rematchOffers.add(event.seat);
      break;
    case 'rematch':
      state.rematchOffers = new Set([1, 2]);
      state.rematchId = event.game_id;
      break;
    default:
      break;
  }
}

// Take in an event's details; news the first time this seq is seen.
function record(state, event) {
  learn(state, event);
  if (event.seq <= state.spokenSeq) return [];
  state.spokenSeq = event.seq;
  return [{ type: 'event', event }];
}

function addMoves(state, events) {
  for (const event of events) if (event.type === 'move' && !state.moves.has(event.seq)) state.moves.set(event.seq, event);
}

// The welcome's snapshot is the whole truth: the board is rebuilt from it rather than patched.
// Its events are what we missed (on a first load, the game's history).
export function applyWelcome(state, message, { now = Date.now() } = {}) {
  const game = message.game;
  const events = message.events || [];
  state.seat = message.seat ?? null;
  state.board = game.board.map((row) => row.slice());
  takeSummary(state, game, now);
  state.rematchOffers = new Set(game.rematch_offers || []);
  state.rematchId = game.rematch_id ?? null;
  state.computer = game.computer ?? null;
  if ('free_seat' in game) state.freeSeat = game.free_seat;
  if (game.abort_code) state.abortCode = game.abort_code; // known even when the events were left out
  if (message.complete === false) {
    // Too far behind for a replay (or the server's log is shorter than ours): the list starts afresh.
    state.moves.clear();
    state.last = null;
    state.spokenSeq = message.seq;
  }
  const news = [];
  for (const event of events) {
    if (event.type === 'move') state.last = [event.column, event.row];
    news.push(...record(state, event));
  }
  addMoves(state, events);
  state.seq = message.seq;
  state.welcomed = true;
  return news;
}

// The next event, in order (protocol.js sees to that).
export function applyEvent(state, event, { now = Date.now() } = {}) {
  state.seq = event.seq;
  takeSummary(state, event, now);
  if (event.type === 'move') {
    state.board[event.row][event.column] = event.seat;
    state.last = [event.column, event.row];
  }
  const news = record(state, event);
  addMoves(state, [event]);
  return news;
}

// The events API's log, after a welcome that came without its events. Newer ones arrive on the socket.
export function applyHistory(state, events) {
  const known = events.filter((event) => event.seq <= state.seq);
  for (const event of known) learn(state, event);
  addMoves(state, known);
  const lastMove = [...state.moves.values()].sort((a, b) => b.seq - a.seq)[0];
  if (lastMove && !state.last) state.last = [lastMove.column, lastMove.row];
}

// Where a timed game's clocks stand at `now`, counted down from the server's latest figure
// (never below zero: at zero we wait for the server's timeout). null for an untimed game.
// left: each seat's main clock; running: the seat to move while a clock runs, else null;
// firstMove: while the side to move is on its first-move limit, what is left of it (its main
// clock does not run meanwhile), else null.
export function clockTimes(state, now = Date.now()) {
  const clock = state.clock;
  if (!clock) return null;
  const live = clock.running !== null && !OVER.has(state.status);
  const elapsed = live ? Math.max(0, now - clock.at) : 0;
  const left = { 1: clock.remaining[1], 2: clock.remaining[2] };
  let firstMove = null;
  if (clock.firstMoveIn !== null) firstMove = Math.max(0, clock.firstMoveIn - elapsed);
  else if (live) left[clock.running] = Math.max(0, left[clock.running] - elapsed);
  return { timeControl: clock.timeControl, left, running: live ? clock.running : null, firstMove };
}

// As the clock moves on: say once per clock when it runs low, and once to a player that its
// first move has a limit. The "said" flags live in the state.
export function clockNews(state, now = Date.now()) {
  const times = clockTimes(state, now);
  if (!times || state.status !== 'playing' || !times.running) return [];
  const seat = times.running;
  if (times.firstMove !== null) {
    if (state.seat !== seat || state.firstMoveSaid[seat] || !times.firstMove) return [];
    state.firstMoveSaid[seat] = true;
    return [{ type: 'first_move', seat, seconds: Math.ceil(times.firstMove / 1000) }];
  }
  if (times.left[seat] >= LOW_TIME_MS || state.lowTimeSaid[seat]) return [];
  state.lowTimeSaid[seat] = true;
  return [{ type: 'low_time', seat }];
}

// Who is here, and the deadlines of who is not. News: a seat that left or came back.
export function applyPresence(state, presence, { first = false, now = Date.now() } = {}) {
  if (!presence) return [];
  const news = [];
  const here = { 1: !!presence.players['1'], 2: !!presence.players['2'] };
  for (const seat of [1, 2]) {
    const away = presence.away?.[String(seat)];
    const before = state.away[seat];
    // "Back" only for someone this screen showed as away (or said had left): not for a
    // player still opening the page, whom the server counted away for a moment.
    const wasShown = awayShown(state, seat, now, before);
    if (away) {
      const entry = {
        // Someone long gone when we arrive gets the banner at once.
        since: before?.since ?? awaySince(state, away, first, now),
        claimAt: now + away.claim_in * 1000 + CLAIM_MARGIN_MS,
        forfeitAt: now + away.forfeit_in * 1000,
        shown: wasShown,
        announced: before?.announced ?? false,
        claimAnnounced: before?.claimAnnounced ?? (first && away.claim_in === 0),
      };
      // A banner there as we arrive is old news: it shows, and nothing is said.
      if (!before && first) entry.announced = awayShown(state, seat, now, entry);
      state.away[seat] = entry;
    } else {
      state.away[seat] = null;
    }
    if (seat === state.seat || here[seat] === state.players[seat]) continue;
    // "left" only makes sense once the seat is taken; a join is its own event.
    if (seat === state.freeSeat && state.status === 'waiting') continue;
    if (!here[seat]) {
      if (!away) news.push({ type: 'left', seat }); // during play the countdown says it, a moment later
    } else if (wasShown || (!before && state.seenOnline[seat])) {
      news.push({ type: 'back', seat, notice: !!state.seat && wasShown });
    }
  }
  for (const seat of [1, 2]) state.seenOnline[seat] ||= here[seat];
  state.players = here;
  state.spectators = presence.spectators ?? 0;
  return news;
}

// As the clock moves on: once an away seat's banner shows, say so once, and once more when the
// win can be claimed. The "said" flags live in state.away.
export function awayNews(state, now = Date.now()) {
  const news = [];
  for (const seat of [1, 2]) {
    const away = state.away[seat];
    if (!away || seat === state.seat || !awayShown(state, seat, now)) continue;
    away.shown = true;
    if (!away.announced) {
      away.announced = true;
      const claimIn = secondsUntil(away.claimAt, now);
      news.push({ type: 'away', seat, claimIn });
      if (!claimIn) away.claimAnnounced = true;
    }
    if (state.seat && !away.claimAnnounced && now >= away.claimAt) {
      away.claimAnnounced = true;
      news.push({ type: 'claimable', seat });
    }
  }
  return news;
}
