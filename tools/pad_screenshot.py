"""The README's screenshot of the live latent pad: the Latent space page on the shipped MNIST pair, the pointer
over the VAE's plane, cropped to the pads.

    python -m tools.pad_screenshot --out docs/screenshots/latent_pad.png
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from .app_browser import chromium_page, chromium_path, open_app, running_app, small_png, wait_for_idle

POINTER_AT = (0.62, 0.38)  # where the pointer rests on the VAE's plane, as fractions of its width and height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots/latent_pad.png"))
    args = parser.parse_args()
    if chromium_path() is None:
        raise SystemExit("needs /usr/bin/chromium")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with running_app() as url, sync_playwright() as playwright, chromium_page(playwright) as page:
        open_app(page, f"{url}/latent_space", timeout_ms=180_000)
        pads = page.locator(".vle-lp")
        pads.last.wait_for(timeout=120_000)
        wait_for_idle(page)
        heading = page.get_by_role("heading", name="Move through the plane")
        heading.scroll_into_view_if_needed()
        plane = pads.last.locator("canvas.vle-lp-fg")
        box = plane.bounding_box()
        page.mouse.move(box["x"] + POINTER_AT[0] * box["width"], box["y"] + POINTER_AT[1] * box["height"], steps=8)
        page.wait_for_timeout(300)
        top = heading.bounding_box()
        boxes = [pads.nth(i).bounding_box() for i in range(pads.count())]
        bottom = max(b["y"] + b["height"] for b in boxes)
        left = min(top["x"], pads.first.bounding_box()["x"]) - 12
        clip = {
            "x": left,
            "y": top["y"] - 12,
            "width": page.viewport_size["width"] - left - 24,
            "height": bottom - top["y"] + 28,
        }
        # Streamlit scrolls inside its own container: make the viewport tall enough for the whole clip
        page.set_viewport_size({"width": page.viewport_size["width"], "height": int(clip["y"] + clip["height"]) + 40})
        page.wait_for_timeout(200)
        png = page.screenshot(clip=clip)
    width = Image.open(io.BytesIO(png)).width
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(small_png(png, width=width))
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
