"""The state `make demo` leaves, for the tests that run on it (every docs
block; the dashboards): `lakehouse db start` and `lakehouse demo` into
$LAKEHOUSE_HOME/docs-demo/ and the database lakehouse_docs_demo, so the other
e2e tests' lakes and databases and a developer's own demo are left alone.
LAKEHOUSE_DOCS_REUSE_DEMO=1 reuses the state a finished earlier run left (for
iterating); CI always runs the demo afresh."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATABASE = "lakehouse_docs_demo"
# variables a test session sets that a newcomer's shell does not have
SESSION_ONLY = ("LAKEHOUSE_WARM_ENGINE", "LAKEHOUSE_START_DATE", "LAKEHOUSE_CATCHUP_DAYS", "LAKEHOUSE_LAKE",
                "LAKEHOUSE_LANDING", "PGDATABASE", "LAKEHOUSE_REPORT_DIR", "AIRFLOW_HOME", "LAKEHOUSE_NOW")
ACTIVATE = "source .venv/bin/activate\nset -eo pipefail\n"
# what a block or test may start, and how it stops (`make stop` without PostgreSQL: the suite uses it)
SERVICES = {"airflow": "stop", "cluster": "down", "connect": "down", "s3": "down", "dashboards": "stop"}


def demo_state():
    """Generator for a module fixture: the demo's environment, made (or
    reused) first; afterwards every service started on it is stopped."""
    from lakehouse.config import settings

    root = settings().home / "docs-demo"
    env, done = _env(root), root / "demo-finished"
    already = {s for s in SERVICES if _running(s, env)}   # before the demo: it starts the warm engine
    if not (os.environ.get("LAKEHOUSE_DOCS_REUSE_DEMO") == "1" and done.exists()):
        shutil.rmtree(root, ignore_errors=True)
        _drop_database()
        root.mkdir(parents=True)
        res = bash("lakehouse db start && lakehouse demo", env, timeout=3600)
        (root / "demo.log").write_text(res.stdout, encoding="utf-8")
        assert res.returncode == 0, f"lakehouse demo exited {res.returncode}:\n{res.stdout[-4000:]}"
        done.touch()
    yield env
    # nothing a block started is left running; what ran before (someone else's) is left alone
    for service in [s for s in SERVICES if s not in already]:
        bash(f"lakehouse {service} {SERVICES[service]}", env, timeout=300)
    assert not [s for s in SERVICES if s not in already and _running(s, env)]


def bash(script: str, env: dict, timeout: int, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`script` in bash with the virtualenv active, as a newcomer's shell runs it."""
    return subprocess.run(["bash", "-c", ACTIVATE + script], cwd=REPO, env=env, input=stdin, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SESSION_ONLY and not k.startswith("AIRFLOW__")}
    env.update(LAKEHOUSE_LAKE=str(root / "lake"), LAKEHOUSE_LANDING=str(root / "landing"),
               LAKEHOUSE_REPORT_DIR=str(root / "report"), PGDATABASE=DATABASE,
               SPARK_LOCAL_IP=env.get("SPARK_LOCAL_IP", "127.0.0.1"))
    return env


def _drop_database() -> None:
    from lakehouse.serving import warehouse

    with warehouse.connect(role="admin", dbname="postgres") as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{DATABASE}" with (force)')


def _running(service: str, env: dict) -> bool:
    lines = bash(f"lakehouse {service} status", env, timeout=120).stdout.splitlines()
    return any("running" in line and "not running" not in line for line in lines)
