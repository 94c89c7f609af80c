"""Run by Superset's own interpreter (its virtualenv), never imported by the
project: `python superset_inside.py import|export DIR`.

`import`: the admin user with the password from the secrets file, then the
dashboards of DIR (Superset's export format: datasets/, charts/,
dashboards/) with the marts' database connection, whose URL (the dashboard
role's password in it) arrives in the environment, never on a command line.
`export`: every dashboard back into DIR, without the database (the diff a
change in the UI makes)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml
from superset.app import create_app

DATABASE_NAME = "lakehouse_marts"      # the connection every dataset of dashboards/ reads through


def _admin(security_manager) -> None:
    password = os.environ["LAKEHOUSE_SUPERSET_ADMIN_PASSWORD"]
    user = security_manager.find_user(username="admin")
    if user is None:
        security_manager.add_user("admin", "Lakehouse", "Admin", "admin@localhost",
                                  security_manager.find_role("Admin"), password=password)
    else:
        security_manager.reset_password(user.id, password)


def _database_uuid(contents: dict[str, str]) -> str:
    """The connection's uuid, as the datasets of dashboards/ name it (one for all)."""
    uuids = {yaml.safe_load(text)["database_uuid"] for name, text in contents.items() if name.startswith("datasets/")}
    if len(uuids) != 1:
        raise SystemExit(f"the datasets of dashboards/ name {len(uuids)} database connections; they must name one")
    return uuids.pop()


def _database(uuid: str) -> dict:
    return {"database_name": DATABASE_NAME, "uuid": uuid, "version": "1.0.0",
            "sqlalchemy_uri": os.environ["LAKEHOUSE_SUPERSET_DATABASE_URI"], "cache_timeout": None,
            "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False, "allow_cvas": False,
            "allow_dml": False, "allow_file_upload": False, "extra": {"allows_virtual_table_explore": True}}


def _point_database_at_the_marts(uuid: str) -> None:
    """The import keeps an existing connection as it was: its URL (host,
    port, database, password) follows the project's settings on every start."""
    from superset import db
    from superset.models.core import Database

    database = db.session.query(Database).filter_by(uuid=uuid).one()
    database.set_sqlalchemy_uri(os.environ["LAKEHOUSE_SUPERSET_DATABASE_URI"])
    db.session.commit()


def import_dashboards(folder: Path) -> int:
    from flask import g
    from superset import security_manager
    from superset.commands.dashboard.importers.dispatcher import ImportDashboardsCommand

    _admin(security_manager)
    g.user = security_manager.find_user(username="admin")
    contents = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(folder.rglob("*.yaml")) if p.parts[len(folder.parts)] != "databases"}
    contents["metadata.yaml"] = yaml.safe_dump({"version": "1.0.0", "type": "Dashboard",
                                                "timestamp": datetime.now(timezone.utc).isoformat()})
    uuid = _database_uuid(contents)
    contents[f"databases/{DATABASE_NAME}.yaml"] = yaml.safe_dump(_database(uuid), allow_unicode=True)
    ImportDashboardsCommand(contents, overwrite=True).run()
    _point_database_at_the_marts(uuid)
    return sum(1 for name in contents if name.startswith("dashboards/"))


def export_dashboards(folder: Path) -> int:
    from flask import g
    from superset import db, security_manager
    from superset.commands.dashboard.export import ExportDashboardsCommand
    from superset.models.dashboard import Dashboard

    g.user = security_manager.find_user(username="admin")
    ids = [i for (i,) in db.session.query(Dashboard.id).all()]
    for kind in ("dashboards", "charts", "datasets"):     # what was deleted in the UI goes too
        shutil.rmtree(folder / kind, ignore_errors=True)
    written = 0
    for name, content in ExportDashboardsCommand(ids).run():
        if name == "metadata.yaml" or name.startswith("databases/"):
            continue
        path = folder / re.sub(r"_\d+\.yaml$", ".yaml", name)   # ids differ between installs; uuids do not
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = yaml.safe_load(content() if callable(content) else content)
        if "catalog" in spec:   # the database's name is the install's (PGDATABASE): left to the connection
            spec["catalog"] = None
        # names as written, not \u escapes: the diff is for people to read
        path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")
        written += 1
    return written


def main() -> int:
    action, folder = sys.argv[1], Path(sys.argv[2])
    app = create_app()
    with app.app_context():
        count = import_dashboards(folder) if action == "import" else export_dashboards(folder)
    print(f"{action}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
