"""The participant page in Debian's headless Chromium, against a real server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.gate import DEVICE_COOKIE
from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.domain.participants import handle_of
from tests.api.conftest import ROOM_KEY
from tests.conftest import FakeClock

# The page and its browser are the same on both databases (the API tests run on both).
pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30  # seconds; the page refreshes every 5
# A name the browser resolves to 127.0.0.1: requests carry it as Host, so the
# server treats the browser as a LAN client (the key is needed), with no traffic
# leaving this machine.
LAN_NAME = "meeting-room.test"


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1",
    ):
        options.add_argument(argument)
    # The meeting's times show in the viewer's zone: one with a DST of its own, fixed here.
    service = DriverService(CHROMEDRIVER, env={**os.environ, "TZ": "Europe/Berlin"})
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def pressed(driver: WebDriver) -> list[str]:
    return [
        name
        for name in ("speaking", "engaged", "disengaged")
        if driver.find_element(By.ID, name).get_attribute("aria-pressed") == "true"
    ]


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def stored_id(driver: WebDriver) -> str:
    return str(driver.execute_script("return localStorage.getItem('mudameter.participant')"))


def test_click_engaged_is_highlighted_and_counted(
    browser: WebDriver, server: ServerThread, meeting_clock: FakeClock
) -> None:
    wait = WebDriverWait(browser, WAIT)
    browser.get(server.local_url)
    wait.until(lambda d: text_of(d, "title") == "Meeting 11:00")
    assert pressed(browser) == []

    browser.find_element(By.ID, "engaged").click()
    wait.until(lambda d: pressed(d) == ["engaged"])
    wait.until(lambda d: text_of(d, "count-engaged") == "1")
    participant_id = stored_id(browser)

    detail = httpx.get(f"{server.local_url}meetings/1").json()
    me = next(p for p in detail["participants"] if p["handle"] == handle_of(participant_id))
    assert me["status"] == "engaged"
    assert detail["engagement_samples"][-1]["engaged"] == 1
    assert "Meeting 11:00" in text_of(browser, "title")
    assert text_of(browser, "time") == "11:00 \u2013 12:00"  # 24-hour, as on the desktop

    # Another client's click shows up in the counts at the next refresh.
    httpx.post(f"{server.local_url}users/status", json={"status": "disengaged"})
    wait.until(lambda d: text_of(d, "count-disengaged") == "1")

    # A reload keeps the participant and shows their status.
    browser.refresh()
    wait.until(lambda d: pressed(d) == ["engaged"])
    assert stored_id(browser) == participant_id

    # The server restarts: the page says so, then carries on by itself.
    port = server.port
    server.stop()
    wait.until(lambda d: "retrying" in text_of(d, "message"))
    server.start()
    assert server.port == port
    wait.until(lambda d: text_of(d, "message") == "")
    assert pressed(browser) == ["engaged"]

    # Two hours later the id has expired: a new participant in the new meeting.
    meeting_clock.advance(hours=2)
    wait.until(lambda d: text_of(d, "title") == "Meeting 13:00")
    wait.until(lambda d: stored_id(d) != participant_id)
    wait.until(lambda d: pressed(d) == [])  # set once the new meeting's detail arrives


@pytest.mark.parametrize("link", ["#key=", "?key="])
def test_joining_from_the_lan_with_the_link(
    browser: WebDriver, server: ServerThread, access: RoomAccess, link: str
) -> None:
    """The QR code's `/#key=` link, and the older `/?key=` one: one tap, then the page."""
    wait = WebDriverWait(browser, WAIT)
    page = f"http://{LAN_NAME}:{server.port}/"
    browser.get(page)
    assert (
        "ask the host for the join link" in browser.find_element(By.TAG_NAME, "body").text.lower()
    )

    browser.get(f"{page}{link}{ROOM_KEY}")
    wait.until(lambda d: text_of(d, "title") == "Meeting 11:00")
    assert browser.current_url == page  # the key left the address bar...
    assert ROOM_KEY not in str(browser.execute_script("return location.href"))
    cookie = browser.get_cookie(DEVICE_COOKIE)
    assert cookie is not None
    assert ROOM_KEY not in cookie["value"]  # a device token, not the key
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")
    assert 29 * 86400 < cookie["expiry"] - time.time() <= 30 * 86400  # it expires
    assert browser.execute_script("return document.cookie") == ""  # out of the script's reach

    browser.find_element(By.ID, "speaking").click()
    wait.until(lambda d: pressed(d) == ["speaking"])

    access.regenerate()  # "New room key": this phone is out at its next call
    wait.until(lambda d: "room key has changed" in text_of(d, "message"))


@pytest.mark.parametrize("link", ["%23key=", "?key="])  # `#` escaped in a data: URL
def test_a_join_link_followed_from_another_site(
    browser: WebDriver, server: ServerThread, link: str
) -> None:
    """From webmail or a chat the SameSite=Strict cookie is withheld on arrival only."""
    wait = WebDriverWait(browser, WAIT)
    page = f"http://{LAN_NAME}:{server.port}/"
    elsewhere = f"data:text/html,<a id=join href='{page}{link}{ROOM_KEY}'>Join</a>"
    browser.get(elsewhere)
    browser.find_element(By.ID, "join").click()
    wait.until(lambda d: text_of(d, "title") == "Meeting 11:00")
    assert browser.current_url == page
    browser.find_element(By.ID, "disengaged").click()
    wait.until(lambda d: pressed(d) == ["disengaged"])
    browser.refresh()  # a reload counts as coming from the other site again
    wait.until(lambda d: pressed(d) == ["disengaged"])
    assert text_of(browser, "message") == ""

    browser.delete_all_cookies()  # the key is gone: the page says how to get it
    wait.until(lambda d: "needs its key" in text_of(d, "message"))
    browser.refresh()
    wait.until(lambda d: "ask the host for the join link" in d.page_source.lower())


def test_quick_clicks_end_on_the_last_one(browser: WebDriver, server: ServerThread) -> None:
    wait = WebDriverWait(browser, WAIT)
    browser.get(server.local_url)
    wait.until(lambda d: text_of(d, "title") == "Meeting 11:00")
    for name in ("speaking", "engaged", "disengaged", "speaking", "engaged"):
        browser.find_element(By.ID, name).click()
    wait.until(lambda d: d.execute_script("return state.pending") == 0)  # all answered
    assert pressed(browser) == ["engaged"]
    detail = httpx.get(f"{server.local_url}meetings/1").json()
    assert [p["status"] for p in detail["participants"]] == ["engaged"]
    assert detail["engagement_samples"][-1] == {
        "minute": "2026-11-27T10:15:00Z",
        "speaking": 1,
        "engaged": 1,
        "disengaged": 1,
    }
    # The page shows the room now (one person, engaged), not this minute's bucket.
    assert text_of(browser, "count-engaged") == "1"
    assert text_of(browser, "count-speaking") == "0"
    assert text_of(browser, "count-disengaged") == "0"
    assert "Room now" in browser.find_element(By.TAG_NAME, "main").text
