"""In real headless Chromium against a simulated school (sandbox, real roster sync, audit and
acknowledgement round): each role signs in through the sandbox's Google sign-in, walks every page it
may see, and is refused the others; the DSL triages with a note, adds an exception that the next
audit keeps honouring, sends reminders and downloads both CSVs; the admin reads the access log; and
every page fits a 390 px phone with no horizontal scroll.

Screenshots (desktop and phone) go to ``$SAFECHANNELS_SCREENSHOTS`` when set (the README's come from
``SAFECHANNELS_SCREENSHOTS=docs/screenshots``), else to the test's temporary folder.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import pytest
import requests
from a11y import FOCUS_JS, audit, tab_through
from browser_env import HAVE_CHROMIUM, chrome, submit_and_wait
from school_env import LiveServer, app_for, build_school, google_sign_in, module_database
from sqlalchemy import select

from integration.audit import run_audit
from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import Finding
from integration.store.models_webapp import FindingException

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian chromium and chromedriver at /usr/bin"),
]


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    with module_database(tmp_path_factory) as url:
        s = build_school(tmp_path_factory.mktemp("school"), url)
        with LiveServer(app_for(s)) as live:
            s.url = live.url
            yield s
        s.ctx.store.dispose()
        s.server.stop()


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("SAFECHANNELS_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(params=["desktop", "phone"])
def browser(request, tmp_path):
    driver = chrome(tmp_path / "profile", phone=request.param == "phone")
    driver.kind = request.param
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def sign_in(b, school, email: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    b.get(school.url + "/auth/login")
    b.find_element(By.ID, "google-sign-in").click()
    WebDriverWait(b, 10).until(lambda d: "Choose an account" in d.page_source)
    Select(b.find_element(By.ID, "email")).select_by_value(email)
    b.find_element(By.ID, "continue").click()
    WebDriverWait(b, 10).until(lambda d: d.current_url.rstrip("/") == school.url and "Status" in d.title)
    assert email in b.page_source


def visit(b, school, path: str, shots: Path, name: str = "") -> None:
    """Open a page; it must load without error and fit the window (no sideways scroll at 390 px)."""
    b.get(school.url + path)
    assert "Internal Server Error" not in b.page_source and "Forbidden" not in b.title, path
    width = b.execute_script("return [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways on {b.kind}: {width}"
    problems = audit(b)  # labels, contrast, alternatives, nothing from outside the app
    assert not problems, f"{path} on {b.kind}: {problems[:10]}"
    if name:
        b.save_screenshot(str(shots / f"{name}-{b.kind}.png"))


def refused(b, school, path: str) -> None:
    b.get(school.url + path)
    assert b.title.startswith("Forbidden"), path


def cookies(b) -> dict:
    return {c["name"]: c["value"] for c in b.get_cookies()}


def open_finding(school) -> Finding:
    """A new finding naming a staff member and a counterpart (so an exception can cover it)."""
    with school.ctx.store.session() as s:
        f = s.scalars(select(Finding).where(Finding.status == "new", Finding.staff.is_not(None),
                                            Finding.counterpart.is_not(None)).order_by(Finding.id)).first()
        assert f is not None, "the simulated school plants such breaches"
        s.expunge(f)
        return f


def test_the_dsl_walks_triages_adds_an_exception_reminds_and_downloads(school, browser, shots):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    b = browser
    sign_in(b, school, school.dsl)
    visit(b, school, "/", shots, "status")
    visit(b, school, "/findings", shots, "findings")
    assert b.find_elements(By.CSS_SELECTOR, "#findings tbody tr")
    visit(b, school, "/findings?status=open&severity=high&sort=-last_seen", shots)
    f = open_finding(school)
    visit(b, school, f"/findings/{f.id}", shots, "finding")
    assert b.find_element(By.ID, "policy").text and b.find_element(By.ID, "what").text
    visit(b, school, f"/people/{f.staff}", shots, "person")
    visit(b, school, "/acks", shots, "acks")
    visit(b, school, "/reports", shots, "reports")
    for path in ("/admin/setup", "/admin/access-log", "/admin/roster"):
        refused(b, school, path)
    if b.kind == "phone":
        return  # the phone pass checks layout; the actions run once, on the desktop

    b.get(f"{school.url}/findings/{f.id}")
    b.find_element(By.ID, "to-reviewing").click()  # no note: the browser's required field stops it
    assert b.find_element(By.ID, "status").text.lower() == "new"
    # by keyboard alone: Tab from the top reaches the note in reading order, every focus visible
    path = tab_through(b, "note")
    assert path[0][0] == "a" and path[0][5] == "Skip to main content"
    assert all(p[3] for p in path), f"focus not visible on {[p[:3] for p in path if not p[3]]}"
    ys = [p[4] for p in path[1:]]  # after the skip link (shown over the page's top while focused)
    assert all(a <= b_ + 4 for a, b_ in zip(ys, ys[1:], strict=False)), f"Tab order jumps back up the page: {ys}"
    ActionChains(b).send_keys("Checking the sharing with the member of staff", Keys.TAB).perform()
    assert b.execute_script(FOCUS_JS)[1] == "to-reviewing"
    submit_and_wait(b, lambda: ActionChains(b).send_keys(Keys.ENTER).perform())
    assert "now reviewing" in b.find_element(By.CSS_SELECTOR, ".notice-success").text
    b.find_element(By.ID, "approved_by").send_keys("Headteacher")
    b.find_element(By.ID, "reason").send_keys("Member of staff is the pupil's parent")
    b.execute_script("document.getElementById('expires').value = '2028-07-31'")
    b.find_element(By.ID, "exception-note").send_keys("Family link confirmed by the Head")
    submit_and_wait(b, b.find_element(By.ID, "add-exception").click)
    notice = b.find_element(By.CSS_SELECTOR, ".notice").text
    assert "is suppressed" in notice, notice
    with school.ctx.store.session() as s:
        before = s.scalar(select(OutboxEmail.id).order_by(OutboxEmail.id.desc()).limit(1))
    run_audit(school.ctx)  # the next audit honours it
    with school.ctx.store.session() as s:
        again = s.get(Finding, f.id)
        exc = s.scalars(select(FindingException).where(FindingException.finding_id == f.id)).one()
        assert (again.status, again.exception_id) == ("suppressed", exc.id)
        assert not list(s.scalars(select(OutboxEmail).where(OutboxEmail.id > (before or 0),
                                                            OutboxEmail.finding_id == f.id)))

    b.get(school.url + "/acks")
    submit_and_wait(b, b.find_element(By.ID, "send-reminders").click)
    assert b.find_elements(By.CSS_SELECTOR, ".notice-success, .notice-info")

    for link, header in (("findings-csv", "id,rule,what,severity"), ("acks-csv", "name,email,org_unit")):
        b.get(school.url + ("/findings" if link == "findings-csv" else "/acks"))
        href = b.find_element(By.ID, link).get_attribute("href")
        r = requests.get(href, cookies=cookies(b), timeout=20)
        assert r.status_code == 200 and r.text.startswith(header) and len(list(csv.reader(io.StringIO(r.text)))) > 1


def test_the_admin_sets_up_reads_the_roster_and_the_access_log(school, browser, shots):
    from selenium.webdriver.common.by import By

    dsl = requests.Session()  # the DSL opens a finding: the admin must find it on the access log
    google_sign_in(dsl, school.url, school.dsl)
    assert dsl.get(f"{school.url}/findings/{open_finding(school).id}", timeout=20).status_code == 200
    b = browser
    sign_in(b, school, school.admin)
    for path, name in (("/", ""), ("/admin/setup", "admin-setup"), ("/admin/roster", "admin-roster"),
                       ("/admin/registers", "admin-registers"), ("/admin/access-log", "access-log"),
                       ("/admin/config", "admin-config"), ("/reports", "")):
        visit(b, school, path, shots, name)
    b.get(school.url + "/admin/setup")
    assert "Client ID:" in b.find_element(By.ID, "delegation").text
    b.get(school.url + "/admin/access-log")
    assert school.dsl.split("@")[0] in b.find_element(By.ID, "access-log").text  # the DSL's views and triage
    for path in ("/findings", "/acks", "/findings.csv", "/acks.csv"):
        refused(b, school, path)


def test_a_governor_reads_the_reports_only(school, browser, shots):
    b = browser
    sign_in(b, school, school.viewer)
    visit(b, school, "/", shots)
    visit(b, school, "/reports", shots)
    for path in ("/findings", "/acks", "/admin/setup", "/admin/access-log", "/findings.csv"):
        refused(b, school, path)
