"""A room's participant page (`/rooms/{slug}/`) in Debian's headless Chromium: its join
link, its cookie and its clicks stay in that room."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.services.rooms import RoomDirectory
from mudameter_desktop.store.database import OpenedStore
from tests.api.test_browser import LAN_NAME, WAIT, browser, pressed, text_of

# The page and its browser are the same on both databases (the API tests run on both).
pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
__all__ = ["browser"]  # the fixture, shared with the seed's page tests


def test_a_rooms_join_link_opens_that_rooms_page(
    browser: WebDriver, server: ServerThread, store: OpenedStore
) -> None:
    room = RoomDirectory(store.engine).add("Team A", timezone="Europe/Berlin")
    assert room.participant_key is not None
    wait = WebDriverWait(browser, WAIT)
    page = f"http://{LAN_NAME}:{server.port}/rooms/team-a/"
    browser.get(page)
    assert "join link" in browser.find_element(By.TAG_NAME, "body").text.lower()

    browser.get(f"{page}#key={room.participant_key}")
    wait.until(lambda d: text_of(d, "title") == "Meeting 11:00")
    assert browser.current_url == page  # the key left the address bar
    cookie = browser.get_cookie(f"mudameter_device_{room.id}")
    assert cookie is not None
    assert cookie["path"] == "/rooms/team-a/"

    browser.find_element(By.ID, "speaking").click()
    wait.until(lambda d: pressed(d) == ["speaking"])
    stored = browser.execute_script(
        "return localStorage.getItem('mudameter.participant:/rooms/team-a/')"
    )
    assert stored
    local = f"http://127.0.0.1:{server.port}"
    in_room = httpx.get(f"{local}/rooms/team-a/meetings").json()
    assert in_room["total"] == 1
    assert httpx.get(f"{local}/meetings").json()["total"] == 0  # not the room `default`
    detail = httpx.get(f"{local}/rooms/team-a/meetings/{in_room['items'][0]['id']}").json()
    assert [p["status"] for p in detail["participants"]] == ["speaking"]
