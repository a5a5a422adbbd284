// The game's client side of docs/protocol.md: one WebSocket at a time, reconnected by itself.
//
// Every server message carries `seq`, the game's sequence number. The client keeps the newest
// one handed on, ignores anything older, reconnects on a gap, and sends it as `last_seq` in
// every hello so the server only resends what we missed. Every move carries a fresh `move_id`;
// if the connection drops before the move is acknowledged, it is sent again after the
// reconnect unless the welcome shows it was already played (the server never plays an ID twice).
//
// It hands what it hears to its callbacks and knows nothing else: no DOM, no page state, no
// words for people, no rules beyond what the protocol says. The page wires the browser's
// online/offline and visibility events to reconnectNow() and networkLost().
// The game's HTTP side (its page's path, the events API) is http.js.

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const RATE_LIMITED_PAUSE_MS = 8000; // closed for sending too much: give it a rest before trying again
const TOO_MANY_PAUSE_MS = 30000; // this address holds too many sockets: others must close first
const PING_EVERY_MS = 20000;
const SILENT_LIMIT_MS = 45000; // no message for this long: the socket is dead, even if it looks open

const CLOSE_GOING_AWAY = 1001; // a deploy: the server restarts
const CLOSE_UNKNOWN_GAME = 4404;
const CLOSE_IDLE = 4408;
const CLOSE_RATE_LIMITED = 4429;
const CLOSE_TOO_MANY_SOCKETS = 4430;

const EVENTS = new Set([
  'created',
  'joined',
  'move',
  'resigned',
  'abandoned',
  'timeout',
  'clock_credit',
  'aborted',
  'rematch_offered',
  'rematch',
]);
const gameOver = (status) => status === 'finished' || status === 'aborted';

// A fresh ID for every move. crypto.randomUUID needs a secure context (https or localhost),
// so a game opened by its LAN address over plain http falls back to getRandomValues.
function newMoveId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

// Callbacks, each optional:
//   welcome(message, {resent})  a welcome (resent: our unanswered move was sent again)
//   event(event)                the next event, exactly once and in seq order, after a welcome
//   ack(message)                the answer to our newest move
//   presence(message)
//   error(message)              the server refused something (after bad_token we say hello again, as a spectator;
//                               'unavailable' is not handed on: we reconnect, and resend an unanswered move)
//   lost(reason)                the connection is gone: 'unknown_game' (for good), or 'restarting',
//                               'rate_limited', 'too_many_connections', 'idle' or 'dropped'
//                               (the client reconnects by itself)
export class GameClient {
  #url;
  #token;
  #on;
  #socket = null;
  #retries = 0;
  #retryTimer = 0;
  #lastHeard = 0;
  #seq = 0; // the newest seq handed on; sent as last_seq on every hello
  #welcomed = false;
  #gone = false; // the server said the game does not exist: stop reconnecting
  #unacked = null; // {column, moveId}: sent, but neither acknowledged nor seen as an event yet

  constructor(url, { token = null, ...callbacks } = {}) {
    this.#url = url;
    this.#token = token;
    this.#on = callbacks;
  }

  // Connect, and keep idle connections alive through proxies, noticing ones that silently died.
  start() {
    this.#connect();
    setInterval(() => {
      const socket = this.#socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.#lastHeard > SILENT_LIMIT_MS) this.#restart();
      else this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  // Send now if the socket is open; false if it is not (nothing is queued).
  send(message) {
    const socket = this.#socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // Remember the move until the server confirms it: if the socket dies first, it is sent again.
  sendMove(column) {
    this.#unacked = { column, moveId: newMoveId() };
    return this.send({ type: 'move', column, move_id: this.#unacked.moveId });
  }

  // Back online or back to the tab: do not sit out the rest of a long backoff.
  reconnectNow() {
    if (!this.#retryTimer) return;
    this.#retries = 0;
    this.#connect();
  }

  // The browser knows the network is gone, while the socket may look open for a long time. Close it
  // now: the close usually still reaches the server, so the opponent sees at once that we left.
  networkLost() {
    if (!this.#socket) return;
    this.#drop();
    this.#scheduleReconnect();
  }

  #connect() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    if (this.#gone) return;
    const ws = new WebSocket(this.#url);
    this.#socket = ws;
    ws.addEventListener('open', () => {
      this.#lastHeard = Date.now();
      // JSON.stringify leaves out an undefined token: no token means "let me watch".
      ws.send(JSON.stringify({ type: 'hello', token: this.#token || undefined, last_seq: this.#seq }));
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.#socket) return;
      this.#lastHeard = Date.now();
      this.#receive(event.data);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.#socket) return; // a socket we already gave up on
      this.#socket = null;
      let reason = '';
      switch (event.code) {
        case CLOSE_UNKNOWN_GAME:
          this.#gone = true;
          reason = 'unknown_game';
          break;
        case CLOSE_GOING_AWAY: // a deploy: the new server is up in moments
          reason = 'restarting';
          this.#retries = 0;
          this.#scheduleReconnect();
          break;
        case CLOSE_IDLE: // we said nothing for too long (a sleeping tab): just come back
          reason = 'idle';
          this.#retries = 0;
          this.#scheduleReconnect();
          break;
        case CLOSE_RATE_LIMITED:
          reason = 'rate_limited';
          this.#scheduleReconnect(RATE_LIMITED_PAUSE_MS);
          break;
        case CLOSE_TOO_MANY_SOCKETS: // a slot frees only when another tab on this address closes
          reason = 'too_many_connections';
          this.#scheduleReconnect(TOO_MANY_PAUSE_MS);
          break;
        default:
          reason = 'dropped';
          this.#scheduleReconnect();
      }
      this.#on.lost?.(reason);
    });
  }

  // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
  #scheduleReconnect(pause = 0) {
    if (this.#retryTimer || this.#gone) return;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.#retries);
    this.#retries += 1;
    const delay = pause + ceiling / 2 + Math.random() * (ceiling / 2);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  // Let go of the current socket at once, without waiting for a close that may never come.
  #drop() {
    const old = this.#socket;
    this.#socket = null;
    this.#on.lost?.('dropped');
    if (old) old.close();
  }

  // Drop the current socket and start again.
  #restart() {
    this.#drop();
    this.#connect();
  }

  #receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === 'welcome') this.#welcome(message);
    else if (EVENTS.has(message.type)) {
      if (this.#welcomed) this.#event(message);
    } else if (message.type === 'ack') this.#ack(message);
    else if (message.type === 'presence') this.#on.presence?.(message);
    else if (message.type === 'error') this.#error(message);
    // pong, seated: nothing to hand on
  }

  #welcome(message) {
    this.#seq = message.seq;
    this.#welcomed = true;
    this.#retries = 0;
    // A move sent just before the connection dropped: send it again unless it got through.
    let resent = false;
    const move = this.#unacked;
    if (move) {
      const seen = (message.events || []).some((event) => event.move_id === move.moveId);
      if (seen || message.game.status !== 'playing' || message.seat == null) this.#unacked = null;
      else resent = this.send({ type: 'move', column: move.column, move_id: move.moveId });
    }
    this.#on.welcome?.(message, { resent });
  }

  #event(event) {
    if (event.seq <= this.#seq) return; // already have it
    if (event.seq !== this.#seq + 1) {
      // A gap: something was lost. Reconnect and let the welcome fill it in.
      this.#restart();
      return;
    }
    this.#seq = event.seq;
    const move = this.#unacked;
    if (move && (event.move_id === move.moveId || gameOver(event.status))) this.#unacked = null;
    this.#on.event?.(event);
  }

  #ack(message) {
    if (!this.#unacked || message.move_id !== this.#unacked.moveId) return;
    this.#unacked = null;
    this.#on.ack?.(message);
  }

  #error(message) {
    if (message.code === 'unavailable') {
      // The server could not reach its database: come back shortly and say hello again; the
      // welcome then sends an unanswered move again under its move_id, which lands once.
      this.#drop();
      this.#scheduleReconnect();
      return;
    }
    this.#unacked = null;
    const badToken = message.code === 'bad_token';
    // The seat we remembered is no longer valid: carry on as a spectator.
    if (badToken) this.#token = null;
    this.#on.error?.(message);
    if (badToken) this.send({ type: 'hello', last_seq: this.#seq });
  }
}
