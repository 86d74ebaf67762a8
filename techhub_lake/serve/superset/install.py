"""Superset in a virtualenv of its own: it pins SQLAlchemy 1.4 and Flask versions that must never
meet the lake's (SQLAlchemy 2, Dagster), so it is installed beside the lake, once, and run as a
separate program."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from techhub_lake.messages import UserError

SUPERSET_VERSION = "6.1.0"
# apache-superset 6.1.0's own metadata misses three of its needs: rich (`superset db upgrade`),
# cachetools (the login page) and flask-caching below 2.4 (2.5 passes an argument its cache rejects).
SUPERSET_REQUIREMENTS = (f"apache-superset=={SUPERSET_VERSION}", "rich>=13,<15", "cachetools>=5,<7",
                         "flask-caching>=2.1,<2.4", "psycopg2-binary>=2.9.9,<3")
MARKER = "techhub-lake-requirements.txt"  # what the virtualenv was installed with


def superset_command(venv: Path) -> Path:
    """The ``superset`` program of the virtualenv."""
    return venv / "bin" / "superset"


def is_installed(venv: Path) -> bool:
    """Whether ``venv`` holds Superset installed with today's requirements."""
    marker = venv / MARKER
    return (superset_command(venv).exists() and marker.exists()
            and marker.read_text().splitlines() == list(SUPERSET_REQUIREMENTS))


def ensure_superset(venv: Path, echo: Callable[[str], None] = print) -> Path:
    """Install Superset into ``venv`` unless it is there already with the same requirements; its
    ``superset`` program. A failed install is one line naming the log to read."""
    if is_installed(venv):
        return superset_command(venv)
    echo(f"installing Apache Superset {SUPERSET_VERSION} into its own virtualenv {venv} (once: ~800 MB, about 2 minutes)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / "install.log"
    with log.open("w") as out:
        steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", *SUPERSET_REQUIREMENTS]]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise UserError(f"installing Superset failed ({' '.join(step[:3])} ...): see {log}; PyPI must be reachable")
    (venv / MARKER).write_text("\n".join(SUPERSET_REQUIREMENTS) + "\n")
    return superset_command(venv)
