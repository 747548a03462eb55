"""The web page in Debian's chromium (headless, driven by Playwright): ask, stream, open the evidence."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
                       "(apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def page_server(small_index: Any, small_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.test_api import open_concept_engine, serve

    engine = open_concept_engine(small_index, tmp_path_factory.mktemp("indexes"))
    try:
        with serve(small_index, engine, rate_limit_per_minute=10_000) as live:
            yield live
    finally:
        engine.close()


def test_ask_stream_and_open_highlighted_evidence(page_server: Any, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((page_server.url, "data:")) else None)
            # Record each piece put into the answer box, in order: checked sentences as they streamed ("true"),
            # then the final answer's nodes. Mutation records keep every insertion even when the whole stream
            # arrives in one network read and is rendered within one task.
            page.add_init_script("""
                window.__answerStates = [];
                new MutationObserver((records) => {
                  for (const r of records) {
                    if (r.type !== "childList" || r.target.id !== "answer") continue;
                    for (const node of r.addedNodes) {
                      const streamed = node.nodeType === 1 && node.classList.contains("streamed");
                      window.__answerStates.push(streamed ? "true" : node.nodeName === "STRONG" ? "lead" : "final");
                    }
                  }
                }).observe(document, {subtree: true, childList: true});
            """)
            page.goto(page_server.url + "/")
            page.wait_for_selector("#attribution li")
            footer = page.inner_text("#attribution")
            assert "Human Phenotype Ontology (version 2025-01-16)" in footer
            assert "Courtesy of the U.S. National Library of Medicine" in footer

            question = page.get_by_label("Your question")
            question.fill("What are the symptoms of type 2 diabetes?")
            page.get_by_label("Public").check()
            question.press("Enter")  # Enter asks

            page.wait_for_selector("#answer:not([data-streaming]) button.cite", timeout=120_000)  # the final answer
            states = page.evaluate("window.__answerStates")
            assert "true" in states and states[-1] == "final", states  # sentences first, then the answer
            answer = page.inner_text("#answer")
            assert "diabetes" in answer.lower()
            assert page.get_attribute("#answer", "aria-live") == "polite"
            assert page.locator("#concepts .chip").count() >= 1
            assert "ICD10CM:E11" in page.inner_text("#concepts")

            first = page.locator("#answer button.cite").first
            first.focus()
            page.keyboard.press("Enter")  # citations open from the keyboard too
            mark = page.locator("#evidence-text mark")
            mark.wait_for(timeout=30_000)
            assert page.is_visible("#evidence")
            highlighted = mark.inner_text().strip()
            assert len(highlighted) > 10
            assert highlighted in page.inner_text("#evidence-text")
            assert mark.is_visible()
            box = mark.bounding_box()
            panel = page.locator("#evidence-text").bounding_box()
            assert box is not None and panel is not None
            assert panel["y"] <= box["y"] + box["height"] and box["y"] <= panel["y"] + panel["height"]

            shot = tmp_path / "ragmed-web.png"
            page.screenshot(path=str(shot), full_page=True)
            target = os.environ.get("RAGMED_SCREENSHOT_DIR")
            if target:
                Path(target).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(target) / shot.name)
            assert shot.stat().st_size > 10_000

            page.keyboard.press("Escape")
            assert page.is_hidden("#evidence")
            assert not outside, f"the page fetched outside resources: {outside}"
        finally:
            browser.close()
