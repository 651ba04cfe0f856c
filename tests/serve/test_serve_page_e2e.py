"""The motion search service's web page (lavimo/serve/page/index.html), end to end in a real headless Chromium
(Debian's package, driven by Playwright) against jobs/serve.py on the session's Ray head (tests/serving.py): a text
query, a video upload through the file input, "more like this", an error from the API, clips that play, and no
request to any other host."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.system_packages import debian_program

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
K = 3
TIMEOUT_MS = 120_000  # a query on a loaded 2-core machine, the first one loading the model's towers


@pytest.fixture(scope="session")
def chromium() -> str:
    return debian_program("chromium", CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield browser
        finally:
            browser.close()


class SearchPage:
    """The page at `service.url`, with every URL it requested."""

    def __init__(self, page, service):
        self.page, self.service, self.requested = page, service, []
        page.on("request", lambda request: self.requested.append(request.url))
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(service.url + "/")
        page.select_option("#k", str(K))

    def cards(self):
        return self.page.locator("#results .result")

    def ids(self) -> list[str]:
        return [card.get_attribute("data-motion-id") for card in self.cards().all()]

    def wait_for_results(self, query: str) -> list[str]:
        """Waits for the results of the query the API calls `query`; their motion ids."""
        self.page.wait_for_selector(f"#results[data-query={_css_string(query)}]:not([aria-busy=true])")
        expect(self.page.locator("#status")).to_have_attribute("data-state", "done")
        return self.ids()

    def assert_only_the_service_was_asked(self) -> None:
        origin = urlparse(self.service.url).netloc
        others = [
            url for url in self.requested if not url.startswith(("data:", "blob:")) and urlparse(url).netloc != origin
        ]
        assert not others, f"the page asked other hosts: {others}"
        assert any(urlparse(url).path.startswith("/search/") for url in self.requested), self.requested


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def search_page(browser, motion_service):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        yield SearchPage(context.new_page(), motion_service)
    finally:
        context.close()


def _plays(page, selector: str) -> None:
    """The clip is decoded and its currentTime advances: sampled every 100 ms for 1.5 s (it loops, so it may wrap
    around; it must change, not grow)."""
    page.wait_for_function(f"document.querySelector({selector!r}).readyState >= 2")
    state = page.evaluate(
        """async (selector) => {
        const video = document.querySelector(selector);
        const times = [];
        for (let i = 0; i < 15; i++) { times.push(video.currentTime); await new Promise(r => setTimeout(r, 100)); }
        return {times, paused: video.paused, width: video.videoWidth, error: video.error && video.error.message,
                muted: video.muted, loop: video.loop};
    }""",
        selector,
    )
    changes = sum(a != b for a, b in zip(state["times"], state["times"][1:]))
    assert not state["paused"] and state["error"] is None and state["width"] > 0, state
    assert state["muted"] and state["loop"], state
    assert changes >= 5, f"the clip does not play: {state}"


def test_a_text_query_shows_k_playing_clips_with_downloads(search_page, motion_service, tmp_path):
    page = search_page.page
    assert page.title() == "LAVIMO motion search"
    page.fill("#query", "a person jumps twice")
    page.click("#search")
    ids = search_page.wait_for_results("a person jumps twice")
    assert len(ids) == K and len(set(ids)) == K and set(ids) <= set(motion_service.motion_ids)
    expected = requests.post(
        f"{motion_service.url}/search/text", json={"text": "a person jumps twice", "k": K}, timeout=60
    ).json()["results"]
    assert ids == [r["motion_id"] for r in expected]

    first, best = search_page.cards().first, expected[0]
    assert first.locator(".rank").text_content() == "#1"
    assert first.locator(".score").text_content() == f"score {best['score']:.3f}"
    assert first.locator(".duration").text_content() == f"{best['duration_s']:.1f} s"
    assert first.locator(".caption").text_content() == best["caption"]
    assert first.locator("video").get_attribute("src") == best["video_url"]
    for attribute in ("autoplay", "muted", "loop", "playsinline"):
        assert first.locator("video").get_attribute(attribute) is not None, attribute
    _plays(page, f'#results .result[data-motion-id="{ids[0]}"] video')

    links = {name: first.locator(f"a.download-{name}") for name in ("video", "bvh", "joints")}
    assert links["video"].get_attribute("href") == f"/motions/{ids[0]}/video"
    assert links["bvh"].get_attribute("href") == f"/motions/{ids[0]}.bvh"
    assert links["bvh"].get_attribute("download") == f"{ids[0]}.bvh"
    assert links["joints"].get_attribute("href") == f"/motions/{ids[0]}/joints.npy"
    for link in links.values():
        answer = requests.get(motion_service.url + link.get_attribute("href"), timeout=60)
        assert answer.status_code == 200 and answer.content, link.get_attribute("href")
    with page.expect_download() as download:  # the browser saves the file the button names
        links["bvh"].click()
    saved = tmp_path / "saved.bvh"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"{ids[0]}.bvh" and saved.read_text().startswith("HIERARCHY")

    shot = tmp_path / "results.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    search_page.assert_only_the_service_was_asked()


def test_a_video_upload_then_more_like_this(search_page, motion_service):
    page = search_page.page
    motion_id, clip = next(iter(motion_service.videos.items()))
    page.set_input_files("#file", clip)
    ids = search_page.wait_for_results(Path(clip).name)
    assert len(ids) == K and set(ids) <= set(motion_service.motion_ids)
    assert "video" in page.locator("#summary").text_content()

    like = ids[-1]
    page.click(f'#results .result[data-motion-id="{like}"] .more')
    ids = search_page.wait_for_results(f"motion {like}")
    assert len(ids) == K and like not in ids and set(ids) <= set(motion_service.motion_ids)
    assert like in page.locator("#summary").text_content()
    expected = requests.get(f"{motion_service.url}/search/motion/{like}", params={"k": K}, timeout=60).json()
    assert ids == [r["motion_id"] for r in expected["results"]]
    _plays(page, "#results .result video")
    search_page.assert_only_the_service_was_asked()


def test_a_blank_query_shows_the_services_error(search_page, motion_service):
    page = search_page.page
    answer = requests.post(f"{motion_service.url}/search/text", json={"text": "   ", "k": K}, timeout=60)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and detail
    page.fill("#query", "   ")
    page.click("#search")
    status = page.locator("#status")
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text(detail)
    assert status.is_visible()
    assert search_page.cards().count() == 0

    page.fill("#query", "a person walks forward")  # the page recovers: the next query is answered
    page.click("#search")
    assert len(search_page.wait_for_results("a person walks forward")) == K
    search_page.assert_only_the_service_was_asked()


def test_text_from_the_service_is_escaped_and_the_links_are_the_services(search_page, motion_service):
    """The service's answer, altered on its way to the page: markup in a caption is shown as text, and the BVH
    link is the result's bvh_url, whatever it is."""
    page = search_page.page
    caption = '<img src=x onerror="window.injected = 1"><b>bold</b>'

    def alter(route):
        answer = route.fetch()
        body = answer.json()
        body["results"][0].update(caption=caption, bvh_url="/motions/some/skeleton.bvh")
        route.fulfill(response=answer, json=body)

    page.route("**/search/text", alter)
    page.fill("#query", "someone waves with the left hand")
    page.click("#search")
    search_page.wait_for_results("someone waves with the left hand")
    first = search_page.cards().first
    assert first.locator(".caption").text_content() == caption
    assert first.locator("img, b").count() == 0 and page.evaluate("window.injected") is None
    assert first.locator("a.download-bvh").get_attribute("href") == "/motions/some/skeleton.bvh"
    second = search_page.cards().nth(1)
    assert (
        second.locator("a.download-bvh").get_attribute("href")
        == f"/motions/{second.get_attribute('data-motion-id')}.bvh"
    )
