"""What the operator console stands on: pages behind roles, SOP ticks, dashboards and administration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.e2e.server import Receiver, ServerProcess

pytestmark = pytest.mark.e2e

FIRE = {"type": "fire.smoke", "method": "equipment", "source": "panel-7", "site": "school-12"}
CSRF = {"X-Requested-With": "tocsin"}


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[ServerProcess]:
    config = f"""
[[webhook]]
url = "{hook.url.replace("http://", "http://user:secret@")}?key=abc"
min_priority = 4
"""
    server = ServerProcess(tmp_path_factory.mktemp("console"), config)
    server.start()
    yield server
    server.stop()


def _user(srv: ServerProcess, username: str, role: str, password: str = "long enough secret") -> None:
    with srv.client("admin") as admin:
        r = admin.post("/api/v1/users", json={"username": username, "password": password, "role": role})
        assert r.status_code == 201, r.text


@contextmanager
def _browser(srv: ServerProcess, username: str, password: str = "long enough secret") -> Iterator[httpx.Client]:
    """A client holding only the session cookie, as a browser would."""
    with httpx.Client(base_url=srv.url) as client:
        r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        yield client


def _incident(srv: ServerProcess, event: dict[str, object]) -> int:
    with srv.client("device") as dev:
        r = dev.post("/api/v1/events", json=event)
        assert r.status_code == 202, r.text
        return int(r.json()["events"][0]["incident_id"])


def test_pages_redirect_to_login_and_stay_behind_their_role(srv: ServerProcess) -> None:
    _user(srv, "page.op", "operator")
    _user(srv, "page.admin", "admin")
    with httpx.Client(base_url=srv.url) as anonymous:
        r = anonymous.get("/")
        assert r.status_code in (301, 302, 307, 308) and r.headers["location"] == "/console/"
        r = anonymous.get("/console/map")
        assert r.status_code == 302 and r.headers["location"].startswith("/console/login?next=/console/map")
        login = anonymous.get("/console/login", params={"next": "//evil.example/"})
        assert login.status_code == 200 and 'data-next="/console/"' in login.text  # no open redirect
    with _browser(srv, "page.op") as op, _browser(srv, "page.admin") as admin:
        queue = op.get("/console/")
        assert queue.status_code == 200 and "queue.js" in queue.text
        csp = queue.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "/console/admin/users" not in queue.text  # no admin links in an operator's navigation
        for page in ("users", "tokens", "alarm-types", "webhooks"):
            refused = op.get(f"/console/admin/{page}")
            assert refused.status_code == 403 and "Not for your role" in refused.text
            assert "admin_" not in refused.text  # the admin script is never even sent
            assert admin.get(f"/console/admin/{page}").status_code == 200
        assert op.get("/console/audit").status_code == 403
        assert op.get("/console/admin/nonsense").status_code == 404
        assert op.get("/console/static/js/api.js").status_code == 200


def test_cookie_changes_need_the_console_header(srv: ServerProcess) -> None:
    _user(srv, "csrf.op", "operator")
    incident = _incident(srv, {**FIRE, "source": "csrf-panel", "site": "csrf-site"})
    with _browser(srv, "csrf.op") as op:
        forged = op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "acknowledge"})
        assert forged.status_code == 403 and "X-Requested-With" in forged.json()["detail"]
        assert op.get(f"/api/v1/incidents/{incident}").json()["handling"] == "new"  # nothing changed
        ok = op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "acknowledge"}, headers=CSRF)
        assert ok.status_code == 200 and ok.json()["incident"]["handling"] == "acknowledged"


def test_sop_ticks_are_recorded_with_the_step_wording(srv: ServerProcess) -> None:
    incident = _incident(srv, {**FIRE, "source": "sop-panel", "site": "sop-site"})
    with srv.client("operator") as op:
        detail = op.get(f"/api/v1/incidents/{incident}").json()
        steps = detail["sop"]
        assert len(steps) >= 3 and not any(s.get("done") for s in steps)
        assert "sop" in detail["allowed_actions"]
        r = op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "sop", "step": 1})
        assert r.status_code == 200 and r.json()["incident"]["handling"] == "new"  # ticking moves no state
        bad = op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "sop", "step": len(steps)})
        assert bad.status_code == 422 and "step" in bad.json()["detail"]
        missing = op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "sop"})
        assert missing.status_code == 422 and "'step'" in missing.json()["detail"]
        detail = op.get(f"/api/v1/incidents/{incident}").json()
        ticked = detail["sop"][1]
        assert ticked["done"] is True and ticked["by"] == "test-operator" and ticked["at"]
        entry = [t for t in detail["timeline"] if t["action"] == "sop"][-1]
        assert entry["data"]["step"] == 1 and entry["data"]["step_text"] == steps[1]["text"]
        op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "sop", "step": 1, "done": False})
        detail = op.get(f"/api/v1/incidents/{incident}").json()
        assert detail["sop"][1].get("done", False) is False
        assert len([t for t in detail["timeline"] if t["action"] == "sop"]) == 2  # both ticks stay on record


def test_stats_count_handling_and_keep_drills_apart(srv: ServerProcess) -> None:
    with srv.client("operator") as op:
        before = op.get("/api/v1/stats", params={"hours": 1}).json()
        first = _incident(srv, {**FIRE, "type": "intrusion.burglary", "source": "s1", "site": "stats-a"})
        _incident(srv, {**FIRE, "type": "intrusion.burglary", "source": "s2", "site": "stats-b"})
        _incident(srv, {**FIRE, "type": "intrusion.burglary", "source": "s3", "site": "stats-c", "exercise": True})
        assert op.post(f"/api/v1/incidents/{first}/actions", json={"action": "acknowledge"}).status_code == 200
        after = op.get("/api/v1/stats", params={"hours": 1}).json()
    assert after["opened"] - before["opened"] == 2
    assert after["exercise"] - before["exercise"] == 1
    assert after["by_type"]["intrusion.burglary"] - before["by_type"].get("intrusion.burglary", 0) == 2
    assert after["acknowledge_s"]["n"] == before["acknowledge_s"]["n"] + 1
    assert after["acknowledge_s"]["p50"] is not None and after["acknowledge_s"]["p50"] >= 0
    assert sum(h["count"] for h in after["by_hour"]) == after["opened"]
    assert after["events_last_minute"] >= 3
    assert all(p["per_second"] >= 0 for p in after["events_per_second"])
    with srv.client("device") as dev:
        assert dev.get("/api/v1/stats").status_code == 403


def test_sites_carry_their_location_and_open_count(srv: ServerProcess) -> None:
    _incident(srv, {**FIRE, "source": "map-1", "site": "map-site", "location": {"lat": 52.5, "lon": 13.4}})
    with srv.client("operator") as op:
        sites = {s["site"]: s for s in op.get("/api/v1/sites").json()}
    site = sites["map-site"]
    assert (site["lat"], site["lon"]) == (52.5, 13.4) and site["open"] == 1 and site["top_priority"] == 1


def test_admin_manages_tokens_and_revocation_is_immediate(srv: ServerProcess) -> None:
    with srv.client("admin") as admin:
        made = admin.post("/api/v1/tokens", json={"name": "door-panel", "role": "device"})
        assert made.status_code == 201
        body = made.json()
        listed = {t["id"]: t for t in admin.get("/api/v1/tokens").json()}
        assert listed[body["id"]]["name"] == "door-panel" and "token" not in listed[body["id"]]
        headers = {"Authorization": f"Bearer {body['token']}"}
        assert httpx.post(f"{srv.url}/api/v1/events", json=FIRE, headers=headers).status_code == 202
        assert admin.delete(f"/api/v1/tokens/{body['id']}").status_code == 200
        assert httpx.post(f"{srv.url}/api/v1/events", json=FIRE, headers=headers).status_code == 401
        assert admin.delete(f"/api/v1/tokens/{body['id']}").status_code == 409
        assert admin.delete("/api/v1/tokens/999999").status_code == 404
        assert admin.post("/api/v1/tokens", json={"name": "x", "role": "overlord"}).status_code == 422
    with srv.client("operator") as op:
        assert op.get("/api/v1/tokens").status_code == 403


def test_admin_changes_and_disables_users_ending_their_sessions(srv: ServerProcess) -> None:
    _user(srv, "shift.lead", "operator")
    with srv.client("admin") as admin, _browser(srv, "shift.lead") as person:
        users = {u["username"]: u for u in admin.get("/api/v1/users").json()}
        user = users["shift.lead"]
        assert user["role"] == "operator" and "password_hash" not in user
        r = admin.patch(f"/api/v1/users/{user['id']}", json={"role": "supervisor"})
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        assert person.get("/api/v1/auth/me").status_code == 401  # a role change ends the old session
        person.post("/api/v1/auth/login", json={"username": "shift.lead", "password": "long enough secret"})
        assert person.get("/api/v1/auth/me").json()["role"] == "supervisor"
        assert admin.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}).json()["disabled_us"]
        assert person.get("/api/v1/auth/me").status_code == 401
        relogin = person.post("/api/v1/auth/login", json={"username": "shift.lead", "password": "long enough secret"})
        assert relogin.status_code == 401
        short = admin.patch(f"/api/v1/users/{user['id']}", json={"password": "short"})
        assert short.status_code == 422 and "password" in short.json()["detail"]
        empty = admin.patch(f"/api/v1/users/{user['id']}", json={})
        assert empty.status_code == 422 and "role, disabled or password" in empty.json()["detail"]
        assert admin.patch("/api/v1/users/999999", json={"disabled": True}).status_code == 404
        audit_actions = [u for u in admin.get("/api/v1/users").json() if u["username"] == "shift.lead"]
        assert audit_actions[0]["disabled_us"]


def test_webhooks_are_listed_without_their_secrets(srv: ServerProcess, hook: Receiver) -> None:
    _incident(srv, {**FIRE, "source": "hook-panel", "site": "hook-site"})
    hook.wait_for(1)
    with srv.client("admin") as admin:
        (listed,) = admin.get("/api/v1/webhooks").json()
    assert "secret" not in listed["url"] and "key=abc" not in listed["url"] and "secret" not in listed["name"]
    assert listed["url"].startswith("http://127.0.0.1:") and listed["min_priority"] == 4
    health = listed["health"]
    assert health["pending"] + health["delivered"] >= 1 and health["dead"] == 0


def test_console_changes_are_on_the_audit_chain(srv: ServerProcess) -> None:
    incident = _incident(srv, {**FIRE, "source": "audit-panel", "site": "audit-site"})
    with srv.client("admin") as admin, srv.client("operator") as op:
        made = admin.post("/api/v1/tokens", json={"name": "audited", "role": "device"}).json()
        admin.delete(f"/api/v1/tokens/{made['id']}")
        op.post(f"/api/v1/incidents/{incident}/actions", json={"action": "sop", "step": 0})
    with srv.client("auditor") as auditor:
        records: list[dict[str, object]] = []
        start: int | None = 0
        while start is not None:
            page = auditor.get("/api/v1/audit/records", params={"start": start, "limit": 1000}).json()
            records += page["records"]
            start = page["next"]
    by_action = {str(r["action"]): r for r in records}
    assert by_action["token.revoke"]["objects"] == {"tokens": [made["id"]]}
    assert by_action["token.create"]["actor"] == "test-admin"
    assert by_action["incident.sop"]["objects"] == {"incidents": [incident]}
