// The live region: what screen readers hear as the game goes on, the newest few messages kept.

export function createLiveRegion() {
  const el = { live: document.getElementById('live') };

  // Screen readers hear each message once; old ones are trimmed so the region stays small.
  function announce(message) {
    const line = document.createElement('p');
    line.textContent = message;
    el.live.append(line);
    while (el.live.childElementCount > 5) el.live.firstElementChild.remove();
  }

  return { announce };
}
