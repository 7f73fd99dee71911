"""The offline playground in a real browser: a person asks, watches the answer stream in, stops
one, deletes one, follows up in a thread, mentions the bot in a channel. Every step leaves a
screenshot in test-artifacts/playground/. Behind the page: the real bot (practice mode) and the
Slack stand-in, so what the page shows is what the bot wrote through Slack's Web API."""
from __future__ import annotations

import re
import time

import pytest

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser import ARTIFACTS, PlaygroundProcess, keyed_playground, start_chromium, stop_chromium

ADA, GRACE = "U0PLAYADA", "U0PLAYGRACE"
FINAL_LINE = "to get real answers"  # the practice answer's last words


@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    # Slow enough words (0.2 s each, ~70 words) that a person can press Stop mid-answer, also when
    # the bot's write budget (Slack's tiers, as in production) notices the Stop only at its next update.
    process = PlaygroundProcess(tmp_path_factory.mktemp("playground") / "playground.log",
                                PRACTICE_TOKEN_DELAY="0.2", STREAM_UPDATE_INTERVAL="0.3")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(playground):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = start_chromium()
    driver.get(playground.url)
    yield driver
    stop_chromium(driver)


@pytest.fixture
def page(browser, playground):
    """The page fresh for each test, as Ada, in her DM with the bot."""
    browser.get(playground.url)
    browser.execute_script("localStorage.clear()")
    browser.get(playground.url)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=conv-D0PLAYADA].active"))
    return browser


def wait(driver, condition, timeout=30):
    def safely(d):
        try:
            return condition(d)
        except StaleElementReferenceException:  # the list re-rendered under us: look again
            return False
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(safely)


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def ask(driver, text: str, box: str = "composer-input") -> None:
    field = driver.find_element(By.CSS_SELECTOR, f"[data-testid={box}]")
    field.send_keys(text)
    field.send_keys(Keys.ENTER)


def thread_messages(driver):
    return driver.find_elements(By.CSS_SELECTOR, "[data-testid=thread-messages] [data-testid=message]")


def bot_replies(driver):
    return [m for m in thread_messages(driver) if m.get_attribute("data-bot") == "1"
            and "ephemeral" not in (m.get_attribute("class") or "")]


def text_of(message) -> str:
    return message.find_element(By.CSS_SELECTOR, "[data-testid=message-text]").text


def latest_reply_text(driver) -> str:
    replies = bot_replies(driver)
    return text_of(replies[-1]) if replies else ""


def wait_finished(driver, count: int = 1) -> str:
    """The text of the thread's ``count``-th bot answer once it has finished streaming."""
    def finished(d):
        replies = bot_replies(d)
        if len(replies) < count:
            return False
        reply = replies[count - 1]
        done = not reply.find_elements(By.CSS_SELECTOR, "[data-testid=block-button]")
        return done and (FINAL_LINE in text_of(reply) or "Stopped" in text_of(reply)) and text_of(reply)
    return wait(driver, finished, timeout=60)


def open_menu_item(driver, message, callback_id: str) -> None:
    ActionChains(driver).move_to_element(message).perform()
    message.find_element(By.CSS_SELECTOR, "[data-testid=more-actions]").click()
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"[data-testid=menu-item-{callback_id}]").is_displayed())
    driver.find_element(By.CSS_SELECTOR, f"[data-testid=menu-item-{callback_id}]").click()


def modal_title(driver) -> str:
    layer = driver.find_element(By.ID, "modal-layer")
    return driver.find_element(By.CSS_SELECTOR, "[data-testid=modal-title]").text if layer.is_displayed() else ""


def modal_words(driver) -> str:
    """Everything the open modal says, as a person reads it."""
    return driver.find_element(By.CSS_SELECTOR, "[data-testid=modal]").text


def test_ask_in_a_dm_and_watch_the_answer_stream_in(page):
    assert "Practice mode" in page.find_element(By.CSS_SELECTOR, "[data-testid=mode-banner]").text
    shot(page, "01-empty-dm")
    ask(page, "What is a thread in Slack?")
    wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=thread-pane]").is_displayed())
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            text = latest_reply_text(page)
        except StaleElementReferenceException:
            continue
        if text and (not seen or seen[-1] != text):
            seen.append(text)
            if len(seen) == 3:
                shot(page, "02-answer-streaming")
        if FINAL_LINE in text and not page.find_elements(By.CSS_SELECTOR, "[data-testid=thread-messages] [data-testid=block-button]"):
            break
        time.sleep(0.05)
    final = seen[-1]
    shot(page, "03-answer-done")
    assert "You asked: “What is a thread in Slack?”" in final and FINAL_LINE in final
    # Streaming: the page showed the answer growing through several intermediate texts before the final one.
    partial = [t for t in seen[:-1] if "You asked" in t or "Practice" in t]
    assert len(partial) >= 3, seen
    assert all(len(a) <= len(b) + 2 for a, b in zip(partial, partial[1:])), partial  # +2: the trailing "…"
    # The question is in the DM, the answer in its thread, as in Slack.
    top = page.find_elements(By.CSS_SELECTOR, "[data-testid=messages] [data-testid=message]")
    assert [m.get_attribute("data-user") for m in top] == [ADA]
    assert "1 reply" in page.find_element(By.CSS_SELECTOR, "[data-testid=replies-link]").text


def test_the_stop_button_stops_an_answer(page):
    ask(page, "Tell me a long story")
    button = wait(page, lambda d: next((b for b in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=thread-messages] [data-testid=block-button]") if b.text == "Stop"), None))
    wait(page, lambda d: "You asked" in latest_reply_text(d))  # stop mid-answer, after some words arrived
    shot(page, "04-before-stop")
    button.click()
    final = wait_finished(page)
    shot(page, "05-stopped-by-button")
    assert "⏹ Stopped by @Ada Lovelace" in final
    assert FINAL_LINE not in final


def test_stop_generating_from_the_message_menu(page):
    ask(page, "Another long one, please")
    wait(page, lambda d: "You asked" in latest_reply_text(d) and bot_replies(d)[-1].find_elements(
        By.CSS_SELECTOR, "[data-testid=block-button]"))
    open_menu_item(page, bot_replies(page)[-1], "abort_openai_api")
    wait(page, lambda d: modal_title(d) == "Stopped")
    shot(page, "06-stopped-from-menu")
    page.find_element(By.CSS_SELECTOR, "[data-testid=modal-close]").click()
    wait(page, lambda d: not d.find_element(By.ID, "modal-layer").is_displayed())
    final = wait_finished(page)
    assert "⏹ Stopped by @Ada Lovelace" in final and FINAL_LINE not in final


def test_delete_an_answer_from_the_message_menu(page):
    ask(page, "Something to delete")
    wait_finished(page)
    assert len(bot_replies(page)) == 1
    open_menu_item(page, bot_replies(page)[-1], "delete_message")
    wait(page, lambda d: modal_title(d) == "Deleted")
    shot(page, "07-deleted")
    # The modal reads as Slack shows the bot's view (title, its section's text, the close button), not
    # as a JavaScript object (issue 16 item 7: "Deleted" over "[object Object]").
    assert modal_words(page).split("\n") == ["Deleted", "The answer was deleted.", "OK"]
    wait(page, lambda d: not bot_replies(d))
    page.find_element(By.CSS_SELECTOR, "[data-testid=modal-close]").click()
    wait(page, lambda d: not d.find_element(By.ID, "modal-layer").is_displayed())
    # The question stays; only the bot's answer went.
    assert [m.get_attribute("data-user") for m in thread_messages(page)] == [ADA]


def test_follow_up_in_the_thread_carries_the_conversation(page):
    ask(page, "First question")
    wait_finished(page)
    ask(page, "And a follow-up", box="thread-composer-input")
    second = wait_finished(page, count=2)
    shot(page, "08-follow-up")
    assert "You asked: “And a follow-up”" in second
    # The bot read the thread back from Slack: the first question and its answer come along.
    assert "Thread context: 2 earlier message(s)" in second


def test_mention_in_a_channel_and_only_the_asker_may_stop(page):
    page.find_element(By.CSS_SELECTOR, "[data-testid=conv-C0PLAYGENERAL]").click()
    ask(page, "@Threadwise what does this channel do?")
    wait(page, lambda d: "You asked: “what does this channel do?”" in latest_reply_text(d))
    question = page.find_elements(By.CSS_SELECTOR, "[data-testid=messages] [data-testid=message]")[-1]
    assert "@Threadwise" in text_of(question)
    shot(page, "09-channel-mention")
    # Grace, who did not ask, presses Stop on Ada's answer: only she is told, the answer goes on.
    Select(page.find_element(By.CSS_SELECTOR, "[data-testid=person-select]")).select_by_value(GRACE)
    wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=person-select]").get_attribute("value") == GRACE
         and d.find_elements(By.CSS_SELECTOR, "[data-testid=messages] [data-testid=replies-link]"))
    page.find_elements(By.CSS_SELECTOR, "[data-testid=messages] [data-testid=replies-link]")[-1].click()
    stop = wait(page, lambda d: next((b for b in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=thread-messages] [data-testid=block-button]") if b.text == "Stop"), None))
    stop.click()
    note = wait(page, lambda d: next((m for m in thread_messages(d)
                                      if "ephemeral" in (m.get_attribute("class") or "")), None))
    assert "Only @Ada Lovelace, who asked the question, can stop this answer" in text_of(note)
    shot(page, "10-only-the-asker-may-stop")
    final = wait_finished(page)
    assert FINAL_LINE in final and "Stopped" not in final


def home_text(driver) -> str:
    view = driver.find_element(By.CSS_SELECTOR, "[data-testid=home-view]")
    return view.text if view.is_displayed() else ""


def test_the_home_tab_shows_the_published_view_and_the_admins_csv_button_works(page, playground):
    # Ada is the playground's admin: her Home tab is the view the bot published, with the workspace's part.
    page.find_element(By.CSS_SELECTOR, "[data-testid=home-tab]").click()
    wait(page, lambda d: "people used Threadwise this month" in home_text(d))
    text = home_text(page)
    assert "Ask me anything" in text and "Your usage in" in text and "Workspace (admins only)" in text
    assert "ChatGPT Business for them would cost $25 ×" in text and "Daily cost" in text
    shot(page, "11-home-admin")
    button = next(b for b in page.find_elements(By.CSS_SELECTOR, "[data-testid=home-view] [data-testid=block-button]")
                  if b.text == "Send me this month's CSV")
    button.click()
    wait(page, lambda d: modal_title(d) == "CSV sent")
    shot(page, "12-home-csv-sent")
    page.find_element(By.CSS_SELECTOR, "[data-testid=modal-close]").click()
    page.find_element(By.CSS_SELECTOR, "[data-testid=conv-D0PLAYADA]").click()
    wait(page, lambda d: any("usage ledger for" in m.text for m in d.find_elements(
        By.CSS_SELECTOR, "[data-testid=messages] [data-testid=message]")))
    # Grace is a member: her own usage, nobody else's, and no button.
    Select(page.find_element(By.CSS_SELECTOR, "[data-testid=person-select]")).select_by_value(GRACE)
    page.find_element(By.CSS_SELECTOR, "[data-testid=home-tab]").click()
    wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=person-select]").get_attribute("value") == GRACE
         and "Your usage in" in home_text(d))
    text = home_text(page)
    assert "Workspace (admins only)" not in text and "people used" not in text and "CSV" not in text
    shot(page, "13-home-member")


def test_with_a_real_key_the_page_works_at_its_printed_address(tmp_path, openai_server):
    """A real OPENAI_API_KEY: the address carries a random token; opened there, the page works as ever
    (its API calls carry the token), and the answer comes from the model API (here OpenAI's stand-in)."""
    process = keyed_playground(tmp_path / "playground.log", openai_server.base_url)
    driver = start_chromium()
    try:
        [url] = re.findall(r"open (http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32})", process.logs())
        driver.get(url)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=conv-D0PLAYADA].active"))
        assert "Real answers" in driver.find_element(By.CSS_SELECTOR, "[data-testid=mode-banner]").text
        ask(driver, "Hello with a key")
        wait(driver, lambda d: bot_replies(d) and not bot_replies(d)[-1].find_elements(
            By.CSS_SELECTOR, "[data-testid=block-button]") and text_of(bot_replies(d)[-1]).strip(" …"))
        shot(driver, "14-real-key-tokened-address")
        assert "Practice" not in text_of(bot_replies(driver)[-1])
        driver.get(process.url)  # the address without its token
        assert "address it printed" in driver.find_element(By.TAG_NAME, "body").text
    finally:
        stop_chromium(driver)
        process.stop()
