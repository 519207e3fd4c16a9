"""Roles × endpoints, justifications, logins and the guard, against a real server process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.e2e

ROLES = ("admin", "supervisor", "operator", "auditor", "device")
WORKERS = {"admin", "supervisor", "operator"}
FIRE = {"type": "fire.smoke", "method": "equipment", "source": "panel-1", "site": "depot"}
WHY = {"X-Justification": "audit", "X-Justification-Text": "matrix test", "X-Case-Number": "T-1"}
_n = itertools.count()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("acc"), "retention_interval_s = 0\n")
    for role in ROLES:
        server.token(role)
    server.start()
    with server.client("device") as dev:
        assert dev.post("/api/v1/events", json=FIRE).status_code == 202
    yield server
    server.stop()


def _body(path: str) -> dict[str, Any] | None:
    n = next(_n)
    if path == "/api/v1/alarm-types":
        return {
            "code": f"T{n}",
            "key": f"test.t{n}",
            "name": "Generator fuel low",
            "category": "Infra",
            "priority": 3,
            "sop": ["Check the fuel gauge.", "Order fuel."],
        }
    if path == "/api/v1/users":
        return {"username": f"user{n}", "password": "correct horse battery", "role": "operator"}
    if path.endswith("/actions"):
        return {"action": "note", "text": "checked"}
    if path == "/api/v1/events":
        return FIRE
    return None


OK = {"GET": 200, "POST": 201}
MATRIX: list[tuple[str, str, set[str], int]] = [
    ("POST", "/api/v1/events", WORKERS | {"device"}, 202),
    ("GET", "/api/v1/incidents?state=open", WORKERS | {"auditor"}, 200),
    ("GET", "/api/v1/incidents/1", WORKERS | {"auditor"}, 200),
    ("POST", "/api/v1/incidents/1/actions", WORKERS, 200),
    ("GET", "/api/v1/alarm-types", WORKERS | {"auditor"}, 200),
    ("POST", "/api/v1/alarm-types", {"admin"}, 201),
    ("GET", "/api/v1/stream", WORKERS, 200),
    ("POST", "/api/v1/users", {"admin"}, 201),
    ("GET", "/api/v1/auth/me", set(ROLES), 200),
    ("GET", "/api/v1/audit/records", {"auditor"}, 200),
    ("GET", "/api/v1/audit/proof/inclusion?index=0", {"auditor"}, 200),
    ("GET", "/api/v1/audit/proof/consistency?from=1", {"auditor"}, 200),
]
PUBLIC = [
    "/healthz",
    "/metrics",
    "/transparency",
    "/transparency.json",
    "/api/v1/audit/checkpoint",
    "/api/v1/openapi.json",
]


def _call(client: httpx.Client, method: str, path: str, **kw: Any) -> int:
    if path == "/api/v1/stream":
        with client.stream(method, path, **kw) as resp:
            return resp.status_code
    return client.request(method, path, json=_body(path.split("?")[0]), **kw).status_code


@pytest.mark.parametrize(("method", "path", "allowed", "status"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_role_matrix(srv: ServerProcess, role: str, method: str, path: str, allowed: set[str], status: int) -> None:
    if role == "anonymous":
        with httpx.Client(base_url=srv.url, timeout=10) as anon:
            assert _call(anon, method, path, headers=WHY) == 401
        return
    with srv.client(role, timeout=10) as c:
        expected = status if role in allowed else 403
        assert _call(c, method, path, headers=WHY) == expected


@pytest.mark.parametrize("path", PUBLIC)
def test_public_paths_need_no_login(srv: ServerProcess, path: str) -> None:
    assert httpx.get(srv.url + path, timeout=10).status_code == 200


def test_justification_rules(srv: ServerProcess) -> None:
    with srv.client("operator") as op, srv.client("auditor") as aud:
        assert op.get("/api/v1/incidents", params={"state": "open"}).status_code == 200  # working open: implicit
        r = op.get("/api/v1/incidents")  # every state: a search, needs a reason
        assert r.status_code == 403 and r.json()["error"] == "justification_required"
        assert op.get("/api/v1/incidents", headers={"X-Justification": "investigation"}).status_code == 200
        r = op.get("/api/v1/incidents", headers={"X-Justification": "curiosity"})
        assert r.status_code == 422 and "X-Justification" in r.json()["detail"]
        assert aud.get("/api/v1/incidents/1").status_code == 403  # auditors never have an implicit reason
        assert aud.get("/api/v1/incidents/1", headers=WHY).status_code == 200
        records = aud.get("/api/v1/audit/records", params={"limit": 1000}).json()["records"]
    consults = [r for r in records if r["operation"] == "consultation"]
    refused = [r for r in consults if r.get("outcome") == "refused"]
    assert refused and all(r["detail"]["reason"] == "justification required" for r in refused)
    justified = [r for r in consults if r.get("justification", {}).get("case") == "T-1"]
    assert justified, "the given case number is on the chain"


def test_audit_read_is_itself_logged_and_proofs_verify(srv: ServerProcess) -> None:
    from tocsin.audit.merkle import verify_consistency, verify_inclusion
    from tocsin.audit.verify import record_hash

    with srv.client("auditor") as aud:
        first = aud.get("/api/v1/audit/records").json()
        second = aud.get("/api/v1/audit/records", params={"limit": 1000}).json()
        assert any(r["action"] == "audit.read" for r in second["records"])
        assert second["size"] > first["size"]
        size = second["size"]
        rec = second["records"][3]
        inc = aud.get("/api/v1/audit/proof/inclusion", params={"index": 3, "size": size}).json()
    import base64

    from tocsin.audit.merkle import root

    leaves = [record_hash(r) for r in second["records"][:size]]
    tree_root = root(leaves)
    verify_inclusion(record_hash(rec), 3, size, [base64.b64decode(p) for p in inc["proof"]], tree_root)
    with srv.client("auditor") as aud:
        cons = aud.get("/api/v1/audit/proof/consistency", params={"from": 5, "to": size}).json()
    verify_consistency(5, size, root(leaves[:5]), tree_root, [base64.b64decode(p) for p in cons["proof"]])


def test_login_cookie_session_logout_and_throttle(srv: ServerProcess) -> None:
    with srv.client("admin") as admin:
        r = admin.post(
            "/api/v1/users", json={"username": "night.op", "password": "long enough secret", "role": "operator"}
        )
        assert r.status_code == 201
    with httpx.Client(base_url=srv.url) as browser:
        r = browser.post("/api/v1/auth/login", json={"username": "night.op", "password": "long enough secret"})
        assert r.status_code == 200 and r.json()["role"] == "operator"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert browser.get("/api/v1/auth/me").json() == {"name": "night.op", "role": "operator"}
        refused = browser.post("/api/v1/auth/logout")  # cookie alone, no X-Requested-With: a forged request
        assert refused.status_code == 403 and "X-Requested-With" in refused.json()["detail"]
        assert browser.post("/api/v1/auth/logout", headers={"X-Requested-With": "tocsin"}).status_code == 200
        browser.cookies.clear()
        token = r.json()["token"]
        assert browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with httpx.Client(base_url=srv.url) as attacker:
        codes = [
            attacker.post("/api/v1/auth/login", json={"username": "night.op", "password": f"guess-{i}"}).status_code
            for i in range(7)
        ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    with srv.client("auditor") as aud:
        actions = [r["action"] for r in aud.get("/api/v1/audit/records", params={"limit": 1000}).json()["records"]]
    assert actions.count("auth.login_failed") >= 5 and "auth.login_throttled" in actions and "auth.login" in actions


def test_guard_refuses_over_http_and_audits(srv: ServerProcess) -> None:
    with srv.client("admin") as admin:
        bad = {
            "code": "X77",
            "key": "crowd.protest",
            "name": "Illegal gathering",
            "category": "Security",
            "priority": 2,
            "description": "Protest or demonstration in a public square",
            "sop": ["Watch."],
        }
        r = admin.post("/api/v1/alarm-types", json=bad)
        assert r.status_code == 422 and r.json()["error"] == "guard_refused"
        assert "refused" in r.json()["errors"][0]["message"]
        assert all(t["code"] != "X77" for t in admin.get("/api/v1/alarm-types").json())
        review = {
            "code": "X78",
            "key": "fire.worship_site",
            "name": "Fire alarm at a place of worship",
            "category": "Fire",
            "priority": 1,
            "sop": ["Dispatch the fire service."],
        }
        r = admin.post("/api/v1/alarm-types", json=review)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "$.justification"
        ok = admin.post(
            "/api/v1/alarm-types",
            json={**review, "justification": "Historic timber building, fire service asked for a distinct code."},
        )
        assert ok.status_code == 201
        r = admin.post("/api/v1/events", json=[FIRE, {**FIRE, "attributes": {"religion": "x"}}])
        assert r.status_code == 422
        assert r.json()["errors"][0]["index"] == 1 and "attributes" in r.json()["errors"][0]["path"]
        r = admin.get("/api/v1/incidents", params={"type": "protest", "state": "open"})
        assert r.status_code == 422
    report = httpx.get(f"{srv.url}/transparency.json").json()
    assert any(c["code"] == "X78" and "timber" in (c["justification"] or "") for c in report["reviews"])
    assert sum(report["refusals_by_month"].values()) >= 3
    metrics = httpx.get(f"{srv.url}/metrics").text
    assert "tocsin_guard_refusals_total" in metrics


def test_cli_retention_dry_run(srv: ServerProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "tocsin", "retention", "run", "--db", str(srv.db), "--dry-run"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "due:" in out.stderr


def test_dictionary_changes_and_retirements_are_public_history(srv: ServerProcess, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    gen = {"code": "T900", "key": "utility.generator_fault", "name": "Generator fault", "category": "Infra",
           "priority": 3, "sop": ["Check the generator panel.", "Call the maintenance contractor."]}  # fmt: skip
    with srv.client("admin") as admin:
        assert admin.post("/api/v1/alarm-types", json=gen).status_code == 201
        changed = admin.put("/api/v1/alarm-types/T900", json={**gen, "priority": 2})
        assert changed.status_code == 200 and changed.json()["priority"] == 2
        assert admin.put("/api/v1/alarm-types/T900", json={**gen, "key": "x.y"}).status_code == 409
        assert admin.delete("/api/v1/alarm-types/T900", params={"reason": "generator removed"}).status_code == 204
        assert all(t["code"] != "T900" for t in admin.get("/api/v1/alarm-types").json())
        assert admin.delete("/api/v1/alarm-types/000").status_code == 409
    history = [c for c in httpx.get(f"{srv.url}/transparency.json").json()["type_changes"] if c["code"] == "T900"]
    assert [c["change"] for c in history] == ["added", "changed", "retired"]
    assert history[-1]["justification"] == "generator removed"

    good = {**gen, "code": "T901", "key": "utility.pump_fault", "name": "Pump fault"}
    bad = {**gen, "code": "T902", "key": "crowd.watch", "name": "Demonstrators gathering"}
    dictionary = tmp_path / "types.json"
    dictionary.write_text(json.dumps([good, bad]))
    cmd = [sys.executable, "-m", "tocsin", "alarm-types", "import", str(dictionary), "--url", srv.url,
           "--token", srv.token("admin")]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 1 and "entry 1" in out.stderr
    with srv.client("admin") as admin:
        assert all(t["code"] != "T901" for t in admin.get("/api/v1/alarm-types").json())  # all or nothing
    dictionary.write_text(json.dumps([good]))
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0 and "1 added" in out.stderr
