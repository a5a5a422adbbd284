"""A real daphne server and Debian's chromium, driven by Playwright."""

import os

import pytest

from tests.servers import Daphne, chromium_path, prepare, require

ARTIFACTS = os.environ.get("E2E_ARTIFACTS", "artifacts/screenshots")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One production-like server (debug off, static files via WhiteNoise) for the browser tests."""
    workdir = tmp_path_factory.mktemp("e2e-server")
    daphne = Daphne(prepare(workdir), workdir / "daphne.log").start()
    yield daphne
    daphne.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module; Playwright's sync API holds the main thread's event loop
    while it runs, so it is closed before the async tests of other modules."""
    path = chromium_path()
    require(path is not None, "chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


# Each page reports every Content-Security-Policy violation, as the browser's event, to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`
    + ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`);
});
"""


def record_csp_violations(context, page) -> None:
    """``page.csp_violations``: the violations the page's ``securitypolicyviolation`` events
    and the browser's console (which names each one "Content Security Policy") report."""
    violations = []
    page.csp_violations = violations
    context.expose_binding("reportCspViolation", lambda source, text: violations.append(text))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )


@pytest.fixture
def new_page(browser):
    """Open a page in a fresh browser context: each is a different person. Any JavaScript error
    or Content-Security-Policy violation on it fails the test."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        record_csp_violations(context, page)
        return page

    yield open_page
    for context in contexts:
        for page in context.pages:
            assert page.js_errors == [], f"JavaScript errors on {page.url}: {page.js_errors}"
            assert page.csp_violations == [], f"CSP violations on {page.url}: {page.csp_violations}"
        context.close()


# Waits for the page's animations to finish (each animation's own `finished` promise), bounded.
# Not `page.wait_for_function`: Playwright turns its predicate into a function with an eval
# in the page, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses.
SETTLE_ANIMATIONS = """
async (transitionsOnly) => {
  const moving = () => document.getAnimations().filter((a) => transitionsOnly
    ? a instanceof CSSTransition
    : a.playState === 'running' && a.effect?.getComputedTiming().iterations !== Infinity);
  const deadline = Date.now() + 10000;
  for (let running = moving(); running.length; running = moving()) {
    if (Date.now() > deadline) throw new Error(`animations still running: ${running.length}`);
    await Promise.race([
      Promise.allSettled(running.map((a) => a.finished)),
      new Promise((resolve) => setTimeout(resolve, deadline - Date.now())),
    ]);
  }
}
"""


def settle(page, transitions_only: bool = False):
    """Wait until the page's finite animations (or only its CSS transitions) have finished."""
    page.evaluate(SETTLE_ANIMATIONS, transitions_only)
    return page


@pytest.fixture
def screenshot():
    os.makedirs(ARTIFACTS, exist_ok=True)

    def save(page, name):
        # Falling discs land first: a screenshot shows what a person sees once the board is still
        # (endless animations, like a pulsing "reconnecting" dot, are not waited for).
        settle(page)
        page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)

    return save
