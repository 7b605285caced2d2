"""Page weight: the bytes a browser with an empty cache transfers for each main page of the
demo site (HTML, styles, scripts, icons; product photos excluded), against the 150 KB goal.

    .venv/bin/python bench/page_weight.py            # every page of bench/demo_site.py

Each page is opened in a fresh browser context (nothing cached), at 1280 px, logged in as the
person who uses it. "sent" is what the development server sent (no compression); "gzip" is
the same bodies compressed at level 6, as nginx sends them in production (docs/deploy.md).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from bench.demo_site import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    demo_site,
    log_in,
    resolve,
)

GOAL = 150 * 1024
EXCLUDED = ("/media/photos/",)


def weigh(browser, base: str, person: str | None, path: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(bytes sent, bytes gzip would send, requests) for one page on an empty cache."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    if person:
        log_in(page, base, person)
    target = resolve(page, base, path)
    page.close()
    page = context.new_page()  # a page whose only requests are the measured ones
    responses = []
    page.on("requestfinished", lambda request: responses.append(request))
    # The log-in above warmed the cache with the styles: measure cold, as a first visit.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(base + target)
    page.wait_for_load_state("networkidle")
    sent = compressed = count = 0
    for request in responses:
        if any(part in request.url for part in EXCLUDED):
            continue
        sizes = request.sizes()
        response = request.response()
        body = response.body() if response is not None else b""
        headers = sizes["responseHeadersSize"] + sizes["requestHeadersSize"]
        sent += headers + sizes["responseBodySize"]
        compressed += headers + len(gzip.compress(body, 6))
        count += 1
    context.close()
    return sent, compressed, count


def main() -> int:
    rows = []
    with demo_site() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for demo_page in PAGES:
            sent, compressed, count = weigh(browser, base, demo_page.person, demo_page.path)
            rows.append((demo_page.name, sent, compressed, count))
        browser.close()
    print(f"{'page':<22}{'requests':>9}{'sent KB':>10}{'gzip KB':>10}  goal 150 KB")
    for name, sent, compressed, count in rows:
        verdict = "pass" if sent <= GOAL else "FAIL"
        print(f"{name:<22}{count:>9}{sent / 1024:>10.1f}{compressed / 1024:>10.1f}  {verdict}")
    heaviest = max(rows, key=lambda row: row[1])
    print(f"heaviest: {heaviest[0]}, {heaviest[1] / 1024:.1f} KB sent")
    return 0 if all(sent <= GOAL for _name, sent, _c, _n in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
