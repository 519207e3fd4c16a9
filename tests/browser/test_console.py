"""The operator console in a real browser: log in, see alarms arrive live, work them, stay in your role."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Session
from tests.e2e.server import ServerProcess

_sources = itertools.count(1)


def post_incident(srv: ServerProcess, **fields: Any) -> int:
    """A new incident through the API, as equipment would raise it; returns its id."""
    n = next(_sources)
    event = {"type": "fire.smoke", "method": "equipment", "source": f"panel-{n}", "site": f"site-{n}", **fields}
    with srv.client("device") as dev:
        r = dev.post("/api/v1/events", json=event)
        assert r.status_code == 202, r.text
        return int(r.json()["events"][0]["incident_id"])


def incident(srv: ServerProcess, incident_id: int) -> dict[str, Any]:
    with srv.client("operator") as op:
        body: dict[str, Any] = op.get(f"/api/v1/incidents/{incident_id}").json()
        return body


def test_login_then_an_incident_posted_through_the_api_appears_without_reload(
    session: Session, console: ServerProcess
) -> None:
    page = session.login("op.one")
    page.wait_for_selector("#app[data-ready='true']")
    page.evaluate("window.__sameDocument = true")
    incident_id = post_incident(console, type="intrusion.burglary", description="rear door contact")
    row = page.locator(f"#queue tr[data-incident-id='{incident_id}']")
    expect(row).to_be_visible(timeout=3000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    expect(row).to_contain_text("intrusion.burglary")
    assert int(page.locator("#count-total").inner_text().split()[0]) >= 1
    assert not session.errors


def test_wrong_password_is_refused_on_the_login_page(session: Session) -> None:
    page = session.page
    page.goto(f"{session.base}/console/login")
    page.fill("#username", "op.one")
    page.fill("#password", "not the password")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong username or password")
    assert page.url.endswith("/console/login")


def test_acknowledge_and_tick_the_sop_seen_live_in_a_second_session(
    session: Session, other_session: Session, console: ServerProcess
) -> None:
    incident_id = post_incident(console)
    session.login("op.one")
    other_session.login("op.two")
    mine = session.ready(f"/console/incidents/{incident_id}")
    theirs = other_session.ready(f"/console/incidents/{incident_id}")
    expect(theirs.locator("#incident-state")).to_have_text("new")
    assert mine.locator("button[data-action='close']").count() == 0  # only allowed actions are offered

    mine.click("button[data-action='acknowledge']")
    expect(mine.locator("#incident-state")).to_have_text("acknowledged")
    mine.locator("#sop input[data-sop-step='0']").check()
    expect(mine.locator("#sop input[data-sop-step='0']")).to_be_checked()

    # the other person sees both changes without reloading
    expect(theirs.locator("#incident-state")).to_have_text("acknowledged", timeout=3000)
    expect(theirs.locator("#sop input[data-sop-step='0']")).to_be_checked(timeout=3000)
    expect(theirs.locator("#incident-assignee")).to_contain_text("op.one")

    stored = incident(console, incident_id)
    assert stored["handling"] == "acknowledged" and stored["assignee"] == "op.one"
    assert stored["sop"][0]["done"] is True and stored["sop"][0]["by"] == "op.one"
    assert [t["action"] for t in stored["timeline"]][-2:] == ["acknowledge", "sop"]
    assert not session.errors and not other_session.errors


def test_the_queue_is_keyboard_operable(session: Session, console: ServerProcess) -> None:
    session.login("op.one")
    page = session.ready("/console/")
    first = post_incident(console, type="medical.emergency")
    expect(page.locator(f"#queue tr[data-incident-id='{first}']")).to_be_visible(timeout=3000)
    page.locator("body").press("j")
    selected = page.locator("#queue tr[aria-selected='true']")
    expect(selected).to_have_count(1)
    target = int(selected.get_attribute("data-incident-id") or 0)
    before = incident(console, target)["handling"]
    page.locator("body").press("a")
    if before == "new":
        expect(page.locator(f"#queue tr[data-incident-id='{target}']")).to_contain_text("acknowledged")
        assert incident(console, target)["handling"] == "acknowledged"
    page.locator("body").press("Enter")
    page.wait_for_url(f"{session.base}/console/incidents/{target}")


def test_an_operator_cannot_reach_the_admin_pages(session: Session, console: ServerProcess) -> None:
    page = session.login("op.one")
    assert page.locator("nav [data-nav='users']").count() == 0
    for path in ("/console/admin/users", "/console/admin/tokens", "/console/admin/alarm-types", "/console/audit"):
        response = page.goto(f"{session.base}{path}")
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("Not for your role")
    with httpx.Client(base_url=console.url) as client:
        client.cookies.update({c["name"]: c["value"] for c in session.context.cookies()})
        assert client.get("/api/v1/users").status_code == 403  # and the API says the same


def test_an_admin_reaches_administration(session: Session) -> None:
    session.login("adm")
    page = session.ready("/console/admin/users")
    expect(page.locator("#users [data-username='op.one']")).to_be_visible()
    page.goto(f"{session.base}/console/admin/alarm-types")
    page.wait_for_selector("#app[data-ready='true']")
    expect(page.locator("#alarm-types [data-code]").first).to_be_visible()


def test_the_offline_map_draws_incidents_on_a_coordinate_canvas(session: Session, console: ServerProcess) -> None:
    incident_id = post_incident(console, location={"lat": 52.52, "lon": 13.405})
    session.login("op.one")
    page = session.ready("/console/map")
    expect(page.locator("#map")).to_have_attribute("data-mode", "canvas")
    expect(page.locator(f"#map-list [data-incident-id='{incident_id}']")).to_be_visible()
    later = post_incident(console, location={"lat": 52.50, "lon": 13.39})
    expect(page.locator(f"#map-list [data-incident-id='{later}']")).to_be_visible(timeout=3000)
    assert not session.errors


def test_dashboards_show_handling_figures(session: Session, console: ServerProcess) -> None:
    post_incident(console, type="traffic.collision")
    session.login("sup")
    page = session.ready("/console/dashboard")
    for panel in ("#chart-by-type", "#chart-by-hour", "#chart-rate", "#ack-percentiles", "#resolve-percentiles"):
        expect(page.locator(panel)).to_be_visible()
    expect(page.locator("#chart-by-type")).to_contain_text("traffic.collision")
    assert not session.errors


def test_the_queue_fits_a_phone(browser: Any, console: ServerProcess) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = Session(context, console.url)
    try:
        post_incident(console)
        phone.login("op.two")
        page = phone.ready("/console/")
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")
        expect(page.locator("#queue tr[data-incident-id]").first).to_be_visible()
    finally:
        context.close()
