"""Headless Chromium (Debian's ``chromium`` + ``chromedriver``) driven through Selenium, and the
offline playground in a process of its own, for the tests that use the page as a person does."""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from harness import OPENAI_KEY, ROOT, ManagedProcess, free_port

ARTIFACTS = ROOT / "test-artifacts" / "playground"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Without the background-networking flags Chromium keeps trying Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--disable-extensions", "--window-size=1400,900")


def start_chromium():
    """A fresh headless Chromium with an empty profile; ``quit()`` stops it and its chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        raise RuntimeError("Chromium is missing: ./scripts/test installs Debian's chromium and chromium-driver")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="threadwise-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    # The driver is given, so Selenium Manager never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.profile_dir = profile
    return driver


def stop_chromium(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


class PlaygroundProcess(ManagedProcess):
    """``python -m playground`` (which starts the Slack stand-in and the bot itself). The bot runs in
    the playground's process group, so stopping the group leaves nothing behind."""

    def __init__(self, log_path: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        super().__init__([sys.executable, "-m", "playground", "--port", str(self.port)],
                         {"PRACTICE_MODE": "true", **settings}, log_path)
        self.wait_until(lambda: f"open {self.url}" in self.logs(), "playground", timeout=60)


def keyed_playground(log_path: Path, openai_url: str) -> PlaygroundProcess:
    """The playground with a real model key (OpenAI's stand-in at ``openai_url`` behind it): not practice
    mode, so its address carries a random token."""
    return PlaygroundProcess(log_path, PRACTICE_MODE="false", OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=openai_url,
                             OPENAI_MODEL="test-model", OPENAI_MAX_RETRIES="0")


def until_stopped(process: ManagedProcess):
    """A fixture's body: the process for the tests, stopped after them whatever happened."""
    try:
        yield process
    finally:
        process.stop()
