"""`make screenshots`: every main page of the demo site, in Indonesian, at 390 px (a phone)
and 1280 px (a desktop), as PNG files in this directory."""

from __future__ import annotations

import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.demo_site import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    demo_site,
    log_in,
    pages_by_person,
    resolve,
)

WIDTHS = (390, 1280)


def save_png(data: bytes, target: Path) -> None:
    """Store the screenshot with a 256-colour palette: a fraction of the size, same look."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def main() -> int:
    for old in HERE.glob("*.png"):
        old.unlink()
    with demo_site() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for person, pages in pages_by_person().items():
            for width in WIDTHS:
                context = browser.new_context(
                    viewport={"width": width, "height": 900}, locale="id-ID"
                )
                page = context.new_page()
                if person:
                    log_in(page, base, person)
                for demo_page in pages:
                    path = resolve(page, base, demo_page.path)
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    target = HERE / f"{demo_page.name}-{width}.png"
                    save_png(page.screenshot(full_page=True), target)
                    print(f"{target.name}: {path}")
                context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
