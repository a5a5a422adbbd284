// Short sounds: the opponent's move, and the game's end. Made by the Web Audio API (a beep from
// an oscillator), so there is no file to fetch and nothing the page's CSP must allow.
//
// The toggle is a button with aria-pressed ("Sound", pressed while sounds play); the choice is
// kept in localStorage, so it holds for every game in this browser. Each sound played adds one
// to the toggle's data-played, which lets a test count them without listening.

const STORAGE_KEY = 'four-in-a-row.sound'; // 'off' when muted; on otherwise
// Each sound: its notes (frequency in Hz, start and length in seconds), at a soft volume.
const SOUNDS = {
  move: [[660, 0, 0.09]],
  end: [
    [523, 0, 0.14],
    [784, 0.14, 0.26],
  ],
};
const VOLUME = 0.12;

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY) !== 'off';
  } catch {
    return true; // storage refused (a private window, say): sound is on, for this page
  }
}

function store(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // not kept; the toggle still works for this page
  }
}

export function createSound(button) {
  let on = stored();
  let context = null;

  function render() {
    if (!button) return;
    button.hidden = false; // it does nothing without this script
    button.setAttribute('aria-pressed', String(on));
    button.title = on ? 'Sound is on: press to mute' : 'Sound is muted: press to turn it on';
  }

  // Browsers let audio start only after the person has done something on the page: the
  // context is made (or woken) on their first press, and is ready by the opponent's move.
  function wake() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!on || !Context) return null;
    context ??= new Context();
    if (context.state === 'suspended') context.resume().catch(() => {});
    return context;
  }
  for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, wake, { capture: true });

  function play(kind) {
    if (!on || !SOUNDS[kind]) return;
    const audio = wake();
    if (audio) {
      const start = audio.currentTime + 0.01;
      for (const [frequency, offset, length] of SOUNDS[kind]) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = 'triangle';
        oscillator.frequency.value = frequency;
        // A quick rise and a smooth fall: no click at either end.
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(VOLUME, start + offset + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + length);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(start + offset);
        oscillator.stop(start + offset + length + 0.02);
      }
      if (button) button.dataset.played = String(Number(button.dataset.played || 0) + 1);
    }
  }

  button?.addEventListener('click', () => {
    on = !on;
    store(on);
    render();
    if (on) wake();
  });
  render();

  return { play };
}
