"""Shared set-up for the benchmarks: a seeded database and a real server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.settings import Settings, new_key_entry  # noqa: E402
from store import audit_chain, crypto, migrate  # noqa: E402
from store.db import make_engine  # noqa: E402

# KEHU_BENCH_DIR: where the bench databases (SQLite files) and their keys are kept.
BENCH_DIR = Path(os.environ.get("KEHU_BENCH_DIR") or ROOT / "var" / "bench")
CUSTOMERS = int(os.environ.get("KEHU_BENCH_CUSTOMERS", "100000"))


def bench_env(name: str, database_url: str | None) -> dict[str, str]:
    """Environment for one bench database; keys are kept beside it so reruns reuse the data."""
    folder = BENCH_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    keys = folder / "keys.env"
    if not keys.exists():
        keys.write_text(
            f"KEHU_ENCRYPTION_KEYS={new_key_entry('b1')}\nKEHU_HASH_KEYS={new_key_entry('h1')}\n"
            f"KEHU_JWT_SECRET=bench-secret-bench-secret-bench-secret-000\n"
        )
    if "KEHU_AUDIT_KEYS=" not in keys.read_text():  # keys of a bench database made before 0007
        with keys.open("a") as handle:
            handle.write(f"KEHU_AUDIT_KEYS={new_key_entry('a1')}\n")
    env = dict(os.environ)
    env.update(line.split("=", 1) for line in keys.read_text().splitlines() if line)  # type: ignore[arg-type]
    env["KEHU_VAR_DIR"] = str(folder)
    env["KEHU_DATABASE_URL"] = database_url or f"sqlite:///{folder / 'kehu.db'}"
    return env


def prepared(env: dict[str, str], seed_options: Sequence[str] = ()) -> Settings:
    """Migrate and seed the bench database up to CUSTOMERS customers (once); ``seed_options``
    go to ``kehu seed`` (``--transactions 10``)."""
    settings = Settings.from_env(env)
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        have = int(connection.execute(text("SELECT COUNT(*) FROM customers")).scalar() or 0)
    engine.dispose()
    if have < CUSTOMERS:
        print(f"  seeding {CUSTOMERS - have} customers (once) …", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kehu.cli",
                "seed",
                "--customers",
                str(CUSTOMERS - have),
                *seed_options,
            ],
            env=env,
            check=True,
            cwd=ROOT,
        )
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    """``kehu serve`` in a separate process; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kehu.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def postgres_url() -> str | None:
    return os.environ.get("KEHU_BENCH_POSTGRES_URL") or os.environ.get("KEHU_TEST_POSTGRES_URL")
