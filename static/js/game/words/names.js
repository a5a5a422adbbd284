// How the page's words name the seats: a colour, or "the computer" in a game against it; and
// how they give a span of time ("42 s", "10 min").
//
// Pure functions; no DOM, no socket, no timers.

export const NAMES = { 1: 'Red', 2: 'Yellow' };

// Whether the computer plays this seat.
export const isComputer = (state, seat) => Boolean(state.computer) && state.computer.seat === seat;

// A seat as a sentence names it: its colour, or "the computer" in a game against it, so every
// line about the computer's seat calls it the same (who: inside a sentence, Who: opening one).
export const who = (state, seat) => (isComputer(state, seat) ? 'the computer' : NAMES[seat]);
export const Who = (state, seat) => (isComputer(state, seat) ? 'The computer' : NAMES[seat]);

// The computer's seat as the players list shows it: "Computer · level 3, Club player".
export function computerText(computer) {
  return `Computer · level ${computer.level}, ${computer.name}`;
}

// "42 s" under a minute, then whole minutes rounded up ("10 min").
export function duration(seconds) {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}
