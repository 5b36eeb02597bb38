"""The real Gradio app on a free localhost port: gradio_client API calls and a headless Chromium run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from service.frontends.examples import EXAMPLES
from training.config import PROJECT_ROOT, project_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app exited early:\n{process.stdout.read()}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        pytest.fail("app did not answer within 240 s")
    yield url
    process.terminate()
    process.wait(30)


def test_named_api_analyzes_an_article(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    title, body = EXAMPLES[0]
    badge, probabilities, summary, highlighted, warnings = client.predict(title, body, 2, 0, api_name="/analyze")
    assert 'data-topic="sport"' in badge
    assert probabilities["label"].endswith("(sport)") and len(probabilities["confidences"]) == 11
    from service.text import split_sentences

    sentences = [s.text for s in split_sentences(summary)]
    assert len(sentences) == 2 and all(sentence in body for sentence in sentences)
    _, _, whole, _, _ = client.predict(title, body, 2, 1.0, api_name="/analyze")  # ratio 1: every sentence
    assert len(split_sentences(whole)) == len(split_sentences(body)) > 2
    # A word limit caps the ratio: the summary stops before the sentence that would pass 40 words.
    _, _, short, _, _ = client.predict(title, body, 2, 1.0, 40, api_name="/analyze")
    assert 0 < len(short.split()) <= 40 < len(whole.split())


def test_named_api_reports_bad_input_without_crashing(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    badge, *_, warnings = client.predict("", "   ", 3, 0, api_name="/analyze")
    assert "warta-error" in badge and "empty" in warnings
    badge, *_ = client.predict("", EXAMPLES[1][1], 3, 0, api_name="/analyze")  # still serving
    assert 'data-topic="health"' in badge


def test_batch_endpoint_reports_bad_rows(server, tmp_path):
    from gradio_client import Client, handle_file

    source = tmp_path / "batch.jsonl"
    lines = [
        "{broken",
        json.dumps({"id": "a", "text": EXAMPLES[2][1]}),
        "[1]",
        json.dumps({"id": "b", "text": EXAMPLES[0][1]}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table, files, topics, days = Client(server, verbose=False).predict(
        handle_file(str(source)), 2, 0, api_name="/analyze_batch"
    )
    rows = table["data"]
    assert [(r[0], r[1]) for r in rows] == [(1, "1"), (2, "a"), (3, "3"), (4, "b")]  # input order, as the CLI
    assert [bool(r[6]) for r in rows] == [True, False, True, False]
    assert [r[2] for r in rows] == ["", "governance", "", "sport"]
    assert {Path(f).suffix for f in files} == {".csv", ".jsonl"}
    written = [
        json.loads(line) for line in Path(next(f for f in files if f.endswith(".jsonl"))).read_text().splitlines()
    ]
    assert [line["row"] for line in written] == [1, 2, 3, 4]
    cli_output = tmp_path / "cli.jsonl"  # the app's lines are the CLI's for the same file
    command = [sys.executable, "-m", "service", "analyze", "--input", str(source), "--output", str(cli_output)]
    subprocess.run([*command, "--max-sentences", "2"], cwd=PROJECT_ROOT, check=True, capture_output=True)
    assert written == [json.loads(line) for line in cli_output.read_text().splitlines()]
    assert {row[0]: row[1] for row in topics["data"]} == {"Pemerintahan & Politik": 1, "Olahraga": 1}  # the chart
    assert days["visible"] is False  # no date column: no per-day chart


def test_batch_txt_with_windows_line_endings_is_split_into_articles(server, tmp_path):
    from gradio_client import Client, handle_file

    source = tmp_path / "batch.txt"
    articles = [f"{title}\n{body}" for title, body in EXAMPLES[:3]]
    source.write_bytes("\n\n\n".join(articles).replace("\n", "\r\n").encode("utf-8"))
    table, *_ = Client(server, verbose=False).predict(handle_file(str(source)), 2, 0, api_name="/analyze_batch")
    rows = table["data"]
    assert [r[1] for r in rows] == ["1", "2", "3"]
    assert [r[2] for r in rows] == ["sport", "health", "governance"]
    assert all(r[4] and not r[6] for r in rows)  # a summary each, no error


def test_batch_upload_over_the_row_cap_is_refused_with_a_clear_message(server, tmp_path):
    from gradio_client import Client, handle_file

    source = tmp_path / "many.csv"  # 2,001 short rows: over the default max_batch_rows (2,000); CSV is read to count
    source.write_text("id,text\n" + "".join(f"{i},pasar murah\n" for i in range(2001)))
    started = time.time()
    with pytest.raises(Exception, match="more than 2,000 rows; the limit is 2,000"):
        Client(server, verbose=False).predict(handle_file(str(source)), 2, 0, api_name="/analyze_batch")
    assert time.time() - started < 30  # refused before any analysis
    counted = tmp_path / "many.jsonl"  # JSONL is counted by its lines, exactly, before any row is parsed
    counted.write_text("".join(json.dumps({"id": str(i), "text": "pasar murah"}) + "\n" for i in range(2001)))
    with pytest.raises(Exception, match="2,001 rows; the limit is 2,000"):
        Client(server, verbose=False).predict(handle_file(str(counted)), 2, 0, api_name="/analyze_batch")


def test_about_tab_names_each_figure_by_the_set_it_was_measured_on():
    from service.config import load_labels
    from service.frontends.app import _about

    shipped = (project_path("models/topic-classifier"), project_path("models/summarizer"))
    sections = _about(load_labels(), shipped).split("\n## ")
    classifier = next(s for s in sections if s.startswith("Klasifikasi topik"))
    summary = next(s for s in sections if s.startswith("Ringkasan"))
    assert "uji pengembangan" in classifier and "model bahasa" in classifier
    assert summary.startswith("Ringkasan: validasi") and "test" not in summary
    for section in (classifier, summary):  # a renamed key leaves no heading without its table
        assert sum(line.startswith("| ") and any(c.isdigit() for c in line) for line in section.splitlines()) >= 2


def test_both_endpoints_share_one_analysis_at_a_time_and_downloads_are_pruned(tmp_path):
    from service.analyzer import Analyzer
    from service.frontends.app import DownloadFolders, build_app

    app = build_app(Analyzer.load())
    groups = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in app.fns.values() if fn.api_name}
    assert groups["analyze"] == groups["analyze_batch"] == ("analysis", 1)
    folders = DownloadFolders(max_age=0)
    first = folders.new()
    time.sleep(0.01)
    second = folders.new()
    assert not first.exists() and second.exists() and second.parent == folders.root


@pytest.fixture
def browser(tmp_path):
    """Headless Debian chromium driven by selenium."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed in CI (.ci/run installs them)")
        pytest.skip("chromium / chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    yield browser
    browser.quit()


def test_browser_runs_an_example_and_shows_the_topic_badge(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    wait = WebDriverWait(browser, 120)
    # The innermost visible element showing the sports example's title (Gradio's examples table).
    cell = (
        "//body//*[not(self::script)][contains(normalize-space(.), 'Timnas Indonesia')]"
        "[not(.//*[contains(normalize-space(.), 'Timnas Indonesia')])]"
    )
    example = wait.until(lambda d: next((e for e in d.find_elements(By.XPATH, cell) if e.is_displayed()), False))
    browser.execute_script("arguments[0].click();", example)
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#warta-text textarea").get_attribute("value"))
    browser.execute_script("arguments[0].click();", browser.find_element(By.ID, "warta-analyze"))
    badge = wait.until(ec.visibility_of_element_located((By.ID, "warta-topic-badge")))
    assert badge.get_attribute("data-topic") == "sport"
    assert "Olahraga" in badge.text
    shot = PROJECT_ROOT / "build" / "screenshots" / "artikel.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_browser_batch_tab_charts_articles_per_topic_and_day(server, browser, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    source = tmp_path / "batch.csv"
    lines = ["id,date,text"] + [
        f'{i},2026-11-{20 + i % 2},"{EXAMPLES[i % 3][1]}"' for i in range(6)
    ]  # two days, three topics
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    browser.get(server)
    wait = WebDriverWait(browser, 120)
    tab = wait.until(lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button") if b.text == "Batch"), False))
    browser.execute_script("arguments[0].click();", tab)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#warta-upload input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#warta-upload input[type=file]").send_keys(str(source))
    wait.until(lambda d: ".csv" in d.find_element(By.ID, "warta-upload").text)  # shown as "batch" + ".csv"
    browser.execute_script("arguments[0].click();", browser.find_element(By.ID, "warta-batch-analyze"))

    def drawn(chart_id):
        def check(d):
            try:  # the chart is re-rendered while it loads: an element found may be gone a moment later
                marks = d.find_elements(By.CSS_SELECTOR, f"#{chart_id} canvas, #{chart_id} svg")
                return any(m.is_displayed() and m.size["width"] > 50 for m in marks)
            except StaleElementReferenceException:
                return False

        return check

    wait.until(drawn("warta-batch-topics"))
    wait.until(drawn("warta-batch-days"))
    shot = PROJECT_ROOT / "build" / "screenshots" / "batch.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_a_full_queue_refuses_at_once_and_answers_the_accepted(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--queue-size", "2"],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 240
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert time.time() < deadline and process.poll() is None, "app did not start"
                time.sleep(0.5)
        source = tmp_path / "slow.jsonl"  # ~40 articles: each request keeps the worker busy a few seconds
        source.write_text("".join(json.dumps({"id": str(i), "text": EXAMPLES[i % 3][1]}) + "\n" for i in range(40)))

        def call(_):
            started = time.time()
            try:
                table, *_ = Client(url, verbose=False).predict(
                    handle_file(str(source)), 2, 0, api_name="/analyze_batch"
                )
                return "answered", len(table["data"]), time.time() - started
            except Exception as error:  # noqa: BLE001 - the refusal is what is measured
                return "refused", str(error), time.time() - started

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(call, range(8)))
        answered = [o for o in outcomes if o[0] == "answered"]
        refused = [o for o in outcomes if o[0] == "refused"]
        print(f"queue of 2, 8 concurrent requests: {len(answered)} answered, {len(refused)} refused")
        assert 2 <= len(answered) <= 3 and len(answered) + len(refused) == 8  # 1 running + up to 2 waiting
        assert all(rows == 40 for _, rows, _ in answered)
        assert all("Queue is full" in message and seconds < 10 for _, message, seconds in refused), refused
    finally:
        process.terminate()
        process.wait(30)
