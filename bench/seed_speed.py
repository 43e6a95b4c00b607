"""Bench: `kehu seed --customers 100000` into a fresh SQLite database (target: under 2 minutes)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from common import BENCH_DIR, CUSTOMERS, ROOT, bench_env

if __name__ == "__main__":
    folder = BENCH_DIR / "seed-speed"
    shutil.rmtree(folder, ignore_errors=True)
    env = bench_env("seed-speed", None)
    subprocess.run([sys.executable, "-m", "kehu.cli", "migrate"], env=env, check=True, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kehu.cli", "seed", "--customers", str(CUSTOMERS)],
        env=env,
        check=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    print(
        f"seed {CUSTOMERS} customers: {seconds:.1f} s, {CUSTOMERS / seconds:,.0f} customers/s "
        f"(target < 120 s: {'met' if seconds < 120 else 'NOT met'})"
    )
    shutil.rmtree(folder, ignore_errors=True)
