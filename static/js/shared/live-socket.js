// A JSON WebSocket that comes back by itself: the lobby's lists and a seek's wait (docs/protocol.md,
// "Play now and the lobby"). The game page has its own client (game/protocol.js), which also keeps
// the game's sequence numbers; these two sockets only need to be open, and to say hello again.
//
// It hands each message to its callback and knows nothing else: no DOM, no words for people.
// The page wires the browser's online/offline and visibility events to reconnectNow() and
// networkLost().

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const RATE_LIMITED_PAUSE_MS = 8000; // closed for sending too much: give it a rest before trying again
const TOO_MANY_PAUSE_MS = 30000; // this address holds too many sockets: others must close first
const PING_EVERY_MS = 20000;
const SILENT_LIMIT_MS = 45000; // no message for this long: the socket is dead, even if it looks open

const CLOSE_GOING_AWAY = 1001; // a deploy: the server restarts
const CLOSE_SERVICE_RESTART = 1012;
const CLOSE_BAD_TOKEN = 4403;
const CLOSE_UNKNOWN = 4404; // no such seek
const CLOSE_IDLE = 4408;
const CLOSE_RATE_LIMITED = 4429;
const CLOSE_TOO_MANY_SOCKETS = 4430;

// ws:// or wss://, as the page came.
export function socketUrl(path) {
  return `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${path}`;
}

// Callbacks, each optional:
//   open()           the socket is open (the hello, if any, has just been sent)
//   message(message) every message the server sends but pong
//   lost(reason)     the socket closed: 'gone' (unknown seek or bad token: for good), or 'restarting',
//                    'rate_limited', 'too_many_connections', 'idle' or 'dropped' (it reconnects by itself)
export class LiveSocket {
  #url;
  #hello;
  #on;
  #socket = null;
  #retries = 0;
  #retryTimer = 0;
  #pingTimer = 0;
  #lastHeard = 0;
  #stopped = false;

  // `hello`: the first message on every connection, or null to say nothing.
  constructor(path, { hello = null, ...callbacks } = {}) {
    this.#url = socketUrl(path);
    this.#hello = hello;
    this.#on = callbacks;
  }

  // Connect, and keep an idle connection alive through proxies, noticing one that silently died.
  start() {
    this.#connect();
    this.#pingTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.#lastHeard > SILENT_LIMIT_MS) {
        this.#drop();
        this.#connect();
      } else this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  get open() {
    return !!this.#socket && this.#socket.readyState === WebSocket.OPEN;
  }

  // Send now if the socket is open; false if it is not (nothing is queued).
  send(message) {
    if (!this.open) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  // For good: the page is leaving, or the server said all there is to say.
  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    this.#retryTimer = 0;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) socket.close(1000);
  }

  // Back online or back to the tab: do not sit out the rest of a long backoff.
  reconnectNow() {
    if (!this.#retryTimer) return;
    this.#retries = 0;
    this.#connect();
  }

  // The browser knows the network is gone, while the socket may look open for a long time.
  networkLost() {
    if (!this.#socket) return;
    this.#drop();
    this.#scheduleReconnect();
  }

  #connect() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    if (this.#stopped) return;
    const ws = new WebSocket(this.#url);
    this.#socket = ws;
    ws.addEventListener('open', () => {
      if (ws !== this.#socket) return;
      this.#lastHeard = Date.now();
      if (this.#hello) ws.send(JSON.stringify(this.#hello));
      this.#on.open?.();
    });
    ws.addEventListener('message', (event) => {
      if (ws !== this.#socket) return;
      this.#lastHeard = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message !== 'object') return;
      if (message.type !== 'error') this.#retries = 0; // the server answered: the next drop starts the backoff afresh
      if (message.type !== 'pong') this.#on.message?.(message);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== this.#socket) return; // a socket we already gave up on
      this.#socket = null;
      if (this.#stopped) return;
      let reason = 'dropped';
      switch (event.code) {
        case CLOSE_UNKNOWN:
        case CLOSE_BAD_TOKEN:
          reason = 'gone';
          this.#stopped = true;
          clearInterval(this.#pingTimer);
          break;
        case CLOSE_GOING_AWAY: // a deploy: the new server is up in moments
        case CLOSE_SERVICE_RESTART:
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
          this.#scheduleReconnect();
      }
      this.#on.lost?.(reason);
    });
  }

  // Exponential backoff with jitter, so a restarted server is not hit by every tab at once.
  #scheduleReconnect(pause = 0) {
    if (this.#retryTimer || this.#stopped) return;
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
}
