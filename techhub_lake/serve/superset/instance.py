"""One Superset on this machine: its home (configuration, metadata database, generated secrets),
its bootstrap (schema, admin account, roles) and its web server on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from techhub_lake import settings
from techhub_lake.messages import UserError
from techhub_lake.serve.superset.install import superset_command

ADMIN_USER = "admin"
_CONFIG = """\
# Written by `techhub-lake bi`: Superset for the lake's warehouse, on this machine only.
import os

SECRET_KEY = os.environ["{secret_env}"]
SQLALCHEMY_DATABASE_URI = "sqlite:///{metadata}"
# no example data, no calls out
SUPERSET_LOAD_EXAMPLES = False
# every chart of a dashboard drawn at once, not only those scrolled into view (screenshots, reports)
FEATURE_FLAGS = {{"DASHBOARD_VIRTUALIZATION": False}}
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False
"""


@dataclass(frozen=True)
class SupersetHome:
    """Superset's directory (``<state dir>/superset``) and the virtualenv it runs from."""

    directory: Path
    venv: Path

    @classmethod
    def default(cls) -> SupersetHome:
        return cls(settings.state_dir() / "superset", settings.superset_venv())

    def _secret(self, configured: str | None, name: str) -> str:
        """A secret from the environment, else one generated on first use and kept in the home (0600)."""
        if configured:
            return configured
        path = self.directory / name
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def admin_password(self) -> str:
        """``$TECHHUB_SUPERSET_ADMIN_PASSWORD``, else the one generated for this home."""
        return self._secret(settings.superset_admin_password(), "admin_password")

    def bi_password(self) -> str:
        """``$TECHHUB_BI_PASSWORD``, else the one generated for this home (the BI role's, which
        Superset's warehouse connection logs in with)."""
        return self._secret(settings.bi_password(), "bi_password")

    def environment(self) -> dict[str, str]:
        """The environment Superset's commands and server run with."""
        return {**os.environ, "SUPERSET_CONFIG_PATH": str(self.directory / "superset_config.py"),
                "SUPERSET_HOME": str(self.directory), "FLASK_APP": "superset",
                settings.SUPERSET_SECRET_KEY_ENV: self._secret(settings.superset_secret_key(), "secret_key")}

    def superset(self, *args: str) -> str:
        """Run one ``superset`` command to its end; its output, or a one-line error naming the log."""
        return self._run([str(superset_command(self.venv)), *args], f"superset {args[0]}")

    def run_python(self, *args: str, environment: dict[str, str] | None = None) -> str:
        """Run a script with Superset's own Python, in Superset's environment (plus ``environment``)."""
        return self._run([str(self.venv / "bin" / "python"), *args], f"the script {Path(args[0]).name}", environment)

    def _run(self, command: list[str], what: str, environment: dict[str, str] | None = None) -> str:
        log = self.directory / "commands.log"
        done = subprocess.run(command, env=self.environment() | (environment or {}), capture_output=True, text=True,
                              cwd=self.directory)
        shown = ["***" if previous == "--password" else arg for previous, arg in zip(("", *command), command, strict=False)]
        with log.open("a") as out:  # passwords never written
            out.write(f"$ {' '.join(shown)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            raise UserError(f"{what} failed (exit {done.returncode}): see {log}")
        return done.stdout + done.stderr

    def bootstrap(self) -> None:
        """Configuration, metadata schema, the admin account (password from the environment), roles
        and permissions: each step safe to repeat."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "superset_config.py").write_text(_CONFIG.format(
            secret_env=settings.SUPERSET_SECRET_KEY_ENV, metadata=self.directory / "superset.db"))
        self.superset("db", "upgrade")
        created = self.superset("fab", "create-admin", "--username", ADMIN_USER, "--firstname", "TechHub",
                                "--lastname", "Admin", "--email", "admin@localhost", "--password", self.admin_password())
        if "already exist" in created:  # keep the password in step with the environment
            self.superset("fab", "reset-password", "--username", ADMIN_USER, "--password", self.admin_password())
        self.superset("init")

    def start(self, port: int, timeout: float = 180) -> subprocess.Popen:
        """Start the web server on 127.0.0.1:``port`` and wait until it answers its health check."""
        log = (self.directory / "server.log").open("a")
        process = subprocess.Popen([str(superset_command(self.venv)), "run", "-h", "127.0.0.1", "-p", str(port),
                                    "--with-threads"], env=self.environment(), cwd=self.directory, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise UserError(f"Superset stopped at start (exit {process.returncode}): see {self.directory / 'server.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                    if answer.status == 200:
                        return process
            except OSError:
                time.sleep(1)
        process.terminate()
        raise UserError(f"Superset did not answer on 127.0.0.1:{port} within {timeout:.0f} s: see {self.directory / 'server.log'}")
