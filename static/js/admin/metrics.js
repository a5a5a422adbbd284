// The admin's live metrics page: asks for the numbers every few seconds and shows them. Every
// number, moves in the last minute too, comes from the server, so the first render has them all.
const page = document.getElementById("live-metrics");
const every = Number(page.dataset.every) * 1000;

function show(numbers) {
  for (const [name, value] of Object.entries(numbers)) {
    const cell = page.querySelector(`[data-metric="${name}"]`);
    if (cell) cell.textContent = value;
  }
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

setTimeout(poll, every); // the page came with the numbers: the first ask is due a period later
