// The admin's live metrics page: asks for the numbers every few seconds and shows them.
// Moves per minute is the difference between two answers, so it appears from the second one.
const page = document.getElementById("live-metrics");
const every = Number(page.dataset.every) * 1000;
let last = null;

function show(numbers) {
  for (const [name, value] of Object.entries(numbers)) {
    const cell = page.querySelector(`[data-metric="${name}"]`);
    if (cell) cell.textContent = value;
  }
  const now = performance.now();
  if (last !== null) {
    const perMinute = ((numbers.moves_committed - last.moves) * 60000) / (now - last.at);
    page.querySelector('[data-metric="moves_per_minute"]').textContent = Math.max(0, Math.round(perMinute));
  }
  last = { moves: numbers.moves_committed, at: now };
}

async function poll() {
  try {
    const response = await fetch(page.dataset.source, { headers: { Accept: "application/json" } });
    if (response.ok) show(await response.json());
  } catch {
    // the server is restarting, say: the next poll tries again
  }
  setTimeout(poll, every);
}

poll();
