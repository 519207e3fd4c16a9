"""The simulated city feed: determinism, validity, scenario mix, and the paced poster."""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from tocsin import simulate
from tocsin.model import EventIn
from tocsin.simulate import ALARM_TYPES, UNKNOWN_TYPES, CityFeed, SimStats, run_simulation

START = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)  # 21:00 in the city: evening into night


def generate(seed: int, count: int = 2000, step: float = 2.0, **kwargs: object) -> list[dict[str, object]]:
    feed = CityFeed(seed, **kwargs)  # type: ignore[arg-type]
    now = START
    events: list[dict[str, object]] = []
    while len(events) < count:
        events.extend(feed.next_events(now))
        now += timedelta(seconds=step)
    return events


def as_event_in(ev: dict[str, object]) -> EventIn:
    return msgspec.json.decode(msgspec.json.encode(ev), type=EventIn)


# --- the generator --------------------------------------------------------------------


def test_same_seed_and_clock_give_same_events() -> None:
    assert generate(7, 500) == generate(7, 500)
    assert generate(7, 500) != generate(8, 500)


def test_every_event_is_a_valid_event_in() -> None:
    for ev in generate(1):
        parsed = as_event_in(ev)
        assert parsed.occurred_at is not None and parsed.occurred_at.tzinfo is not None
        assert parsed.type in ALARM_TYPES or parsed.type in UNKNOWN_TYPES
        assert all(isinstance(v, str | int | float | bool) for v in parsed.attributes.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mix_covers_methods_clears_chatter_and_unknown_types(seed: int) -> None:
    events = generate(seed)
    assert {ev["method"] for ev in events} == {"equipment", "on_duty", "call"}
    assert any(ev["condition"] == "cleared" for ev in events)
    assert any(ev["type"] in UNKNOWN_TYPES for ev in events)
    repeats = collections.Counter(
        (ev["type"], ev.get("site"), ev["source"]) for ev in events if ev["condition"] == "active"
    )
    assert max(repeats.values()) >= 6, "no chattering device in the feed"
    assert any(str(ev["source"]).startswith("call-") and ev.get("description") for ev in events)
    assert any(str(ev["source"]).startswith("officer-") for ev in events)
    assert len({ev["type"] for ev in events}) >= 30


def test_cleared_follows_an_active_of_the_same_type_site_and_source() -> None:
    seen: set[tuple[object, object, object]] = set()
    for ev in generate(4):
        key = (ev["type"], ev.get("site"), ev["source"])
        if ev["condition"] == "active":
            seen.add(key)
        else:
            assert key in seen


def test_external_ids_are_unique_per_source() -> None:
    events = generate(5)
    keys = [(ev["source"], ev["external_id"]) for ev in events]
    assert len(set(keys)) == len(keys)


def test_rerun_at_another_time_gets_other_external_ids() -> None:
    first = CityFeed(9).next_events(START)
    later = CityFeed(9).next_events(START + timedelta(days=1))
    assert first[0]["external_id"] != later[0]["external_id"]


def test_occurred_at_is_never_after_now() -> None:
    feed = CityFeed(6)
    now = START
    for _ in range(500):
        for ev in feed.next_events(now):
            assert as_event_in(ev).occurred_at <= now  # type: ignore[operator]
        now += timedelta(seconds=3)


def test_exercise_ratio() -> None:
    assert all(ev.get("exercise") is True for ev in generate(2, 300, exercise_ratio=1.0))
    assert not any(ev.get("exercise") for ev in generate(2, 300, exercise_ratio=0.0))


def test_site_count() -> None:
    assert len(CityFeed(sites=60).sites) == 60
    assert len({s.name for s in CityFeed(sites=75).sites}) == 75
    few = CityFeed(1, sites=3)
    names = {s.name for s in few.sites}
    now = START
    for _ in range(300):
        for ev in few.next_events(now):
            assert ev.get("site") is None or ev["site"] in names
        now += timedelta(seconds=5)


def test_locations_stay_in_the_city() -> None:
    for ev in generate(3):
        loc = as_event_in(ev).location
        assert loc is not None
        assert abs(loc.lat - 52.37) < 0.08 and abs(loc.lon - 4.89) < 0.1


def test_nothing_about_identity_or_gatherings() -> None:
    banned = ("face", "plate", "ethnic", "religio", "politic", "protest", "gathering", "crowd", "licen")
    for ev in generate(8):
        text = msgspec.json.encode(ev).decode().lower()
        assert not any(word in text for word in banned), ev


def test_rejects_naive_now_and_bad_arguments() -> None:
    with pytest.raises(ValueError):
        CityFeed(1).next_events(datetime(2024, 1, 1))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError):
        CityFeed(sites=0)
    with pytest.raises(ValueError):
        CityFeed(exercise_ratio=1.5)


# --- the poster -----------------------------------------------------------------------


class FakeServer:
    """An httpx.MockTransport handler that records what it accepted."""

    def __init__(self, script: list[httpx.Response] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []
        self.bodies: list[object] = []
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            return self.script.pop(0)
        body = msgspec.json.decode(request.content)
        self.bodies.append(body)
        events = body if isinstance(body, list) else [body]
        for ev in events:
            msgspec.convert(ev, EventIn, strict=False)
            self.received.append(ev["external_id"])
        return httpx.Response(202, json={"accepted": len(events), "events": []})


def simulate_against(server: FakeServer, rate: float, duration: float, **kwargs: object) -> SimStats:
    async def main() -> SimStats:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            return await run_simulation(
                "http://tocsin.test/",
                "secret",
                rate,
                duration=duration,
                seed=11,
                client=client,
                **kwargs,  # type: ignore[arg-type]
            )

    return asyncio.run(main())


def test_posts_batches_with_auth_and_counts_accepted() -> None:
    server = FakeServer()
    progress: list[SimStats] = []
    stats = simulate_against(server, rate=80, duration=0.5, batch_max=10, on_progress=progress.append)
    assert stats.accepted == len(set(server.received)) == len(server.received) > 0
    assert 20 <= stats.accepted <= 50
    assert stats.rejected == stats.retried == stats.errors == stats.unsent == 0
    request = server.requests[0]
    assert request.url == "http://tocsin.test/api/v1/events"
    assert request.headers["Authorization"] == "Bearer secret"
    assert request.headers["Content-Type"] == "application/json"
    assert all(isinstance(body, list) and 1 <= len(body) <= 10 for body in server.bodies)
    assert progress and progress[-1] == stats


def test_low_rate_sends_single_objects_on_pace() -> None:
    server = FakeServer()
    stats = simulate_against(server, rate=5, duration=0.5)
    assert all(isinstance(body, dict) for body in server.bodies)
    assert stats.accepted == 3  # at 0, 0.2 and 0.4 s


def test_503_with_retry_after_resends_the_same_batch() -> None:
    server = FakeServer([httpx.Response(503, headers={"Retry-After": "0"})])
    stats = simulate_against(server, rate=40, duration=0.3, batch_max=5)
    assert stats.retried == 1
    assert stats.accepted == len(set(server.received)) == len(server.received) > 0
    assert server.requests[0].content == server.requests[1].content
    assert stats.rejected == stats.unsent == 0


def test_client_error_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer([httpx.Response(422, json={"detail": "bad event"})])
    with caplog.at_level(logging.ERROR, logger="tocsin.simulate"):
        stats = simulate_against(server, rate=3, duration=0.8)  # singles at 0, 0.33 and 0.67 s
    assert stats.rejected == 1
    assert stats.accepted == len(server.received) == 2
    assert stats.retried == 0
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert getattr(record, "status_code", None) == 422
    assert "bad event" in getattr(record, "body", "")


def test_network_error_backs_off_and_resends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulate, "_BACKOFF_INITIAL", 0.0)
    calls = 0
    server = FakeServer()

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        return server(request)

    async def main() -> SimStats:
        async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as client:
            return await run_simulation("http://tocsin.test", "t", 10, duration=0.25, client=client)

    stats = asyncio.run(main())  # one batch of two events, due at 0.1 s
    assert stats.errors == stats.retried == 2
    assert stats.requests == 3
    assert stats.accepted == len(set(server.received)) == 2


def test_too_large_batch_is_split_not_dropped() -> None:
    server = FakeServer([httpx.Response(413)])
    stats = simulate_against(server, rate=40, duration=0.3, batch_max=10)
    assert stats.rejected == 0
    assert stats.accepted == len(set(server.received)) > 0


def test_overload_past_the_deadline_counts_unsent() -> None:
    server = FakeServer([httpx.Response(503, headers={"Retry-After": "120"})])
    stats = simulate_against(server, rate=5, duration=0.2)
    assert stats.unsent == 1
    assert stats.accepted == 0
    assert stats.elapsed < 5


def test_cancellation_reports_final_stats() -> None:
    server = FakeServer()
    progress: list[SimStats] = []

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            run = run_simulation("http://tocsin.test", "t", 50, client=client, on_progress=progress.append)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(run, timeout=0.3)

    asyncio.run(main())
    assert progress[-1].accepted == len(server.received) > 0


def test_retry_after_parsing() -> None:
    assert simulate._retry_after(None) is None
    assert simulate._retry_after("3") == 3.0
    assert simulate._retry_after("-4") == 0.0
    assert simulate._retry_after("99999") == simulate._MAX_RETRY_AFTER
    assert simulate._retry_after("nan") is None
    assert simulate._retry_after("soon") is None
    assert simulate._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        asyncio.run(run_simulation("http://x", "t", 0))
