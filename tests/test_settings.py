"""Settings from the environment: safe defaults, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, new_key_entry


def test_embedded_mode_generates_private_secrets_once(tmp_path: Path) -> None:
    first = Settings.from_env({"KEHU_VAR_DIR": str(tmp_path)})
    second = Settings.from_env({"KEHU_VAR_DIR": str(tmp_path)})
    assert first.database_url == f"sqlite:///{tmp_path / 'kehu.db'}"
    assert first.jwt_secret == second.jwt_secret
    assert first.encryption_keys == second.encryption_keys
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_an_audit_key_is_added_to_the_secrets_of_an_earlier_installation(
    tmp_path: Path,
) -> None:
    earlier = {
        "KEHU_JWT_SECRET": "x" * 40,
        "KEHU_ENCRYPTION_KEYS": new_key_entry("k1"),
        "KEHU_HASH_KEYS": new_key_entry("h1"),
    }
    (tmp_path / "secrets.json").write_text(json.dumps(earlier))
    settings = Settings.from_env({"KEHU_VAR_DIR": str(tmp_path)})
    again = Settings.from_env({"KEHU_VAR_DIR": str(tmp_path)})
    assert settings.jwt_secret == earlier["KEHU_JWT_SECRET"]  # the existing secrets are kept
    assert [kid for kid, _ in settings.audit_keys] == ["a1"]
    assert settings.audit_keys == again.audit_keys
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert settings.audit_checkpoint_dir == tmp_path.resolve() / "audit-checkpoints"
    assert settings.audit_reads == "buffered"


def test_postgresql_requires_explicit_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="KEHU_JWT_SECRET is required"):
        Settings.from_env(
            {"KEHU_VAR_DIR": str(tmp_path), "KEHU_DATABASE_URL": "postgresql+psycopg://x@h/db"}
        )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KEHU_MAX_DEPTH", "deep", "KEHU_MAX_DEPTH must be an integer"),
        ("KEHU_MAX_BODY_BYTES", "0", "KEHU_MAX_BODY_BYTES must be at least 1"),
        ("KEHU_GRAPHIQL", "maybe", "KEHU_GRAPHIQL must be true or false"),
        ("KEHU_ENCRYPTION_KEYS", "k1:c2hvcnQ", "KEHU_ENCRYPTION_KEYS: key 'k1' must be 32 bytes"),
        ("KEHU_HASH_KEYS", "no-colon", "KEHU_HASH_KEYS: each entry must look like"),
        ("KEHU_DATABASE_URL", "mysql://x", "KEHU_DATABASE_URL must be"),
        ("KEHU_JWT_SECRET", "short", "KEHU_JWT_SECRET must be at least 32 characters"),
        ("KEHU_AUDIT_KEYS", "a1:c2hvcnQ", "KEHU_AUDIT_KEYS: key 'a1' must be 32 bytes"),
        ("KEHU_AUDIT_READS", "always", "KEHU_AUDIT_READS must be one of buffered, sync"),
        ("KEHU_AUDIT_CHECKPOINT_SECONDS", "-1", "KEHU_AUDIT_CHECKPOINT_SECONDS must be positive"),
        ("KEHU_MAJOR_COMPLAINT_PERSONS", "1", "KEHU_MAJOR_COMPLAINT_PERSONS must be at least 2"),
        ("KEHU_MAJOR_COMPLAINT_AMOUNT", "0", "KEHU_MAJOR_COMPLAINT_AMOUNT must be a positive"),
        ("KEHU_MAJOR_COMPLAINT_AMOUNT", "1.001", "KEHU_MAJOR_COMPLAINT_AMOUNT must be a positive"),
        ("KEHU_MAJOR_COMPLAINT_AMOUNT", "lots", "KEHU_MAJOR_COMPLAINT_AMOUNT must be a positive"),
    ],
)
def test_a_bad_value_names_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        Settings.from_env({"KEHU_VAR_DIR": str(tmp_path), name: value})
    if "KEYS" in name:
        assert value.split(":")[-1] not in str(error.value) or value == "no-colon"


def test_key_lists_keep_order_and_refuse_duplicates(tmp_path: Path) -> None:
    keys = f"{new_key_entry('k2')},{new_key_entry('k1')}"
    settings = Settings.from_env({"KEHU_VAR_DIR": str(tmp_path), "KEHU_ENCRYPTION_KEYS": keys})
    assert [kid for kid, _ in settings.encryption_keys] == ["k2", "k1"]
    with pytest.raises(SettingsError, match="appears twice"):
        Settings.from_env(
            {
                "KEHU_VAR_DIR": str(tmp_path),
                "KEHU_HASH_KEYS": f"{new_key_entry('h')},{new_key_entry('h')}",
            }
        )


def test_token_lifetimes_are_bounded(tmp_path: Path) -> None:
    base = {"KEHU_VAR_DIR": str(tmp_path)}
    settings = Settings.from_env(base)
    # A working day of demo tokens fits in the default maximum.
    assert settings.token_ttl_minutes == 480
    assert settings.token_max_lifetime_minutes == 720
    with pytest.raises(SettingsError, match="KEHU_TOKEN_TTL_MINUTES"):
        Settings.from_env({**base, "KEHU_TOKEN_TTL_MINUTES": "721"})
    bounded = Settings.from_env(
        {**base, "KEHU_TOKEN_TTL_MINUTES": "60", "KEHU_TOKEN_MAX_LIFETIME_MINUTES": "60"}
    )
    assert bounded.token_max_lifetime_minutes == 60


def test_token_leeway_is_a_bounded_setting(tmp_path: Path) -> None:
    base = {"KEHU_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(base).token_leeway_seconds == 5
    assert Settings.from_env({**base, "KEHU_TOKEN_LEEWAY_SECONDS": "0"}).token_leeway_seconds == 0
    assert Settings.from_env({**base, "KEHU_TOKEN_LEEWAY_SECONDS": "60"}).token_leeway_seconds == 60
    for bad, message in (("-1", "at least 0"), ("301", "at most 300"), ("soon", "an integer")):
        with pytest.raises(SettingsError, match=f"KEHU_TOKEN_LEEWAY_SECONDS must be {message}"):
            Settings.from_env({**base, "KEHU_TOKEN_LEEWAY_SECONDS": bad})


def test_cors_origins_are_off_by_default_and_must_be_origins(tmp_path: Path) -> None:
    base = {"KEHU_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(base).cors_origins == ()
    settings = Settings.from_env(
        {**base, "KEHU_CORS_ORIGINS": " https://app.bank.cn/ ,http://localhost:5173,,"}
    )
    assert settings.cors_origins == ("https://app.bank.cn", "http://localhost:5173")
    for bad in ("*", "app.bank.cn", "https://app.bank.cn/path", "ftp://x", "https://*.bank.cn"):
        with pytest.raises(SettingsError, match="KEHU_CORS_ORIGINS: each entry must be an origin"):
            Settings.from_env({**base, "KEHU_CORS_ORIGINS": bad})
