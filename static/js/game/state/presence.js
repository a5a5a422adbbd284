// Who is here, and who is away: folding in the server's presence messages, when an away seat's
// banner shows, and the news of someone leaving, coming back, or the win becoming claimable.
//
// The deadlines are the server's (claim_in, forfeit_in), turned into times on this page's clock;
// the server alone ends the game or grants the claim.

const AWAY_SHOW_AFTER_MS = 1500; // a quick reload is not worth a banner
// Someone not yet seen on this screen may still be opening the page (a Play now pairing, a
// rematch): the server counts them away from the moment the first player arrives.
const ARRIVAL_SHOW_AFTER_MS = 5000;
const CLAIM_MARGIN_MS = 250; // our clock and the server's differ a little: do not offer the claim too early

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
