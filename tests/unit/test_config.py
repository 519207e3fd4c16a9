"""Settings: every one documented, bad ones rejected with a message naming them."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tocsin.config import SETTINGS_DOC, Settings, WebhookConfig, load_settings
from tocsin.errors import ConfigError


def _setting_names(struct: type[msgspec.Struct], prefix: str = "") -> set[str]:
    """Every leaf setting, walking nested tables and arrays of tables (``[[camera]]``)."""
    names: set[str] = set()
    for field in msgspec.structs.fields(struct):
        inner = _table_of(field.type)
        if inner is None:
            names.add(prefix + field.name)
        else:
            names |= _setting_names(inner, f"{prefix}{field.name}.")
    return names


def _table_of(tp: object) -> type[msgspec.Struct] | None:
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    for arg in getattr(tp, "__args__", ()):
        found = _table_of(arg)
        if found is not None:
            return found
    return None


def test_every_setting_is_documented() -> None:
    assert _setting_names(Settings) == set(SETTINGS_DOC)


def test_every_documented_setting_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "SETTINGS_DOC" in readme
    for name in ("max_body_bytes", "max_batch_events", "max_pending_events", "min_priority", "synchronous"):
        assert name in readme


def test_toml_with_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('port = 9000\n[limits]\nmax_batch_events = 7\n[[webhook]]\nurl = "http://h/x"\nmin_priority = 2\n')
    s = load_settings(cfg, port=None, db="x.db")
    assert (s.port, s.db, s.limits.max_batch_events, s.webhook[0].min_priority) == (9000, "x.db", 7, 2)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("port = 'x'", "port"),
        ("[[webhook]]\nurl = 'ftp://x'", "url"),
        ("nope = 1", "nope"),
        ("port = [", "TOML"),
        ("[[camera]]\nvendor = 'hikvision'\nurl = 'http://cam'\nname = 'gate'\nsupervision_s = 0", "supervision_s"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_settings(cfg)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml")


def test_defaults_are_valid() -> None:
    assert msgspec.convert(msgspec.to_builtins(Settings()), Settings) == Settings()


def test_an_unnamed_webhook_is_shown_without_its_credentials_or_query() -> None:
    hook = WebhookConfig(url="https://user:pw@hooks.example.org/in?token=s3cret")
    assert hook.display == "https://hooks.example.org/in?…"
    assert "s3cret" not in hook.display and "pw" not in hook.display
    assert WebhookConfig(url="https://h.example.org/x?token=s", name="pager").display == "pager"
