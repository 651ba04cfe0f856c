"""The README's picture of the web page: jobs/serve.py on a checkpoint (its own local Ray cluster), a text query typed
into the page in headless Chromium (Debian's package, driven by Playwright), the results once their clips play.

    .venv/bin/python benchmarks/screenshot_serve.py --checkpoint outputs/runs/RUN/checkpoint_X \
        --text "a person jumps twice" --out benchmarks/serve_page.png
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--text", default="a person jumps twice")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "serve_page.png"))
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    service = subprocess.Popen(
        [sys.executable, str(REPO / "jobs" / "serve.py"), "--checkpoint", args.checkpoint, "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in service.stdout:
            if line.startswith("serving "):
                break
        url = f"http://127.0.0.1:{port}"
        while requests.get(f"{url}/healthz", timeout=30).status_code != 200:
            time.sleep(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")
            page.select_option("#k", str(args.k))
            page.fill("#query", args.text)
            page.click("#search")
            page.wait_for_selector("#status[data-state=done]", timeout=120_000)
            page.wait_for_function(
                "[...document.querySelectorAll('#results video')].every(v => v.currentTime > 0.5)", timeout=60_000
            )
            page.screenshot(path=args.out, full_page=True)
            browser.close()
        print(f"wrote {args.out}")
    finally:
        os.killpg(service.pid, signal.SIGINT)
        service.wait(timeout=120)


if __name__ == "__main__":
    main()
