"""In real headless Chromium: the DSL signs in (dev sign-in), reads the status page with its job runs,
opens a finding, triages it to resolved with notes, and the history shows who did it.
Screenshots go to /tmp for a human look."""

from __future__ import annotations

import shutil

import pytest
from browser_env import HAVE_CHROMIUM, chrome
from sqlalchemy import select
from web_env import DSL, LiveServer, add_finding, add_run

from integration.store.models_audit import Finding, FindingEvent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian chromium and chromedriver at /usr/bin"),
]


@pytest.fixture
def browser(tmp_path):
    driver = chrome(tmp_path / "chromium-profile", window="1280,2000")
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def wait_for_title(browser, prefix: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda b: b.title.startswith(prefix))


def test_a_dsl_signs_in_triages_a_finding_and_sees_the_runs(app, store, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
    from selenium.webdriver.support.ui import Select, WebDriverWait

    add_run(store, "roster_sync", summary={"staff": 84, "pupils": 912, "api_calls": 41}, minutes_ago=50)
    add_run(store, "audit", summary={"findings_new": 2, "events_read": 5310, "api_calls": 388}, minutes_ago=12)
    add_run(store, "alerts", "failed", error="SMTP relay refused the connection (will retry)", minutes_ago=2)
    fid = add_finding(store)
    add_finding(store, rule="mail.out_of_hours", severity="low", counterpart=None,
                evidence={"message_id": "<CAF3x@mail.gmail.com>"})
    add_finding(store, rule="chat.staff_pupil_direct", severity="medium", status="reviewing",
                evidence={"room_id": "AAAAxyz"})

    with LiveServer(app) as live:
        browser.get(live.url + "/")
        assert "Sign in" in browser.title
        assert browser.find_element(By.ID, "dev-banner").is_displayed()
        Select(browser.find_element(By.ID, "email")).select_by_value(DSL)
        browser.find_element(By.ID, "dev-sign-in").click()
        wait_for_title(browser, "Status")
        runs = browser.find_element(By.ID, "runs").text
        assert "Roster sync" in runs and "Audit" in runs and "SMTP relay refused" in runs
        browser.save_screenshot("/tmp/safechannels-status.png")

        browser.find_element(By.LINK_TEXT, "Findings").click()
        wait_for_title(browser, "Findings")
        browser.save_screenshot("/tmp/safechannels-findings.png")
        browser.find_element(By.CSS_SELECTOR, f'a[aria-label="Open finding {fid}"]').click()
        wait_for_title(browser, f"Finding {fid}")
        assert "amy.personal@gmail.com" in browser.find_element(By.ID, "fields").text

        browser.find_element(By.ID, "note").send_keys("Checking with Mr Smith")
        browser.find_element(By.ID, "to-reviewing").click()
        assert "now reviewing" in browser.find_element(By.CSS_SELECTOR, ".notice-success").text  # waits (implicit)
        browser.find_element(By.ID, "note").send_keys("Sharing removed; staff reminded of policy 002 §42.")
        browser.find_element(By.ID, "to-resolved").click()
        WebDriverWait(browser, 10).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice-success"),
                                                                          "now resolved"))
        assert browser.find_element(By.ID, "status").text.lower() == "resolved"
        history = browser.find_element(By.ID, "history").text
        assert "Reviewing → Resolved" in history and DSL in history
        browser.save_screenshot("/tmp/safechannels-finding.png")

        browser.find_element(By.LINK_TEXT, "Status").click()
        wait_for_title(browser, "Status")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 3

    with store.session() as s:
        assert s.get(Finding, fid).status == "resolved"
        log = [(e.action, e.actor, e.to_status) for e in s.scalars(
            select(FindingEvent).where(FindingEvent.finding_id == fid).order_by(FindingEvent.id))]
    assert ("status", DSL, "reviewing") in log and ("status", DSL, "resolved") in log
    assert ("viewed", DSL, "") in log
