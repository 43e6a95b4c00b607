"""An installed Kehu (a wheel, not this checkout) carries every data file it reads at run time."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the service reads from its own packages: models, policy, diagrams, forms, templates.
DATA_SUFFIXES = {".toml", ".csv", ".conf", ".bpmn", ".json", ".html", ".mako", ".graphql"}


def test_every_data_file_of_a_package_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    missing = []
    for package in ("core", "kehu", "store", "authz", "workflows", "resolvers", "schema"):
        patterns = package_data.get(package, [])
        for path in (ROOT / package).rglob("*"):
            if path.suffix not in DATA_SUFFIXES or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT / package).as_posix()
            if not any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
                missing.append(f"{package}/{relative}")
    assert missing == [], "add these to [tool.setuptools.package-data]"
