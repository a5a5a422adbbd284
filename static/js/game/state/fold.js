// Folding in what the server says about the game: its welcome, each event in order, and the
// events API's log. Each fold changes the state and returns its news for the page to say.
//
// Who is here (the presence messages) is folded in by presence.js; the clocks are counted down
// by clock.js from what these folds took in.

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
