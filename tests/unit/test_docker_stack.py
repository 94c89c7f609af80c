"""docker/: the compose stack validates, and it configures the project only
through variables the project reads (config.py, airflow_env.py) or standard
Airflow/Spark/AWS ones named here. No Docker engine is needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lakehouse import config
from lakehouse.orchestration import airflow_env

DOCKER = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
PROJECT_IMAGE = "lakehouse:0.1.0"
# Standard variables of the tools themselves, set for the project's image.
STANDARD = {
    "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY",
    "SPARK_WORKER_CORES", "SPARK_WORKER_MEMORY",
}


def _compose(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose not found: scripts/setup.sh installs it on Debian (apt-get install docker-compose)")
    return subprocess.run([exe, "-f", str(COMPOSE), *args], capture_output=True, text=True, timeout=120)


def _resolved() -> dict:
    res = _compose("--env-file", str(ENV_EXAMPLE), "config")
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def _project_reads() -> set[str]:
    """The variables config.py reads, and those of the Airflow environment it assembles."""
    source = Path(config.__file__).read_text(encoding="utf-8")
    names = set(re.findall(r'(?:_env|os\.environ\.get)\("([A-Z][A-Z0-9_]*)"', source))
    per_role = {f"LAKEHOUSE_PG_{role.upper()}_{what}" for role in config.PG_ROLES for what in ("USER", "PASSWORD")}
    return names | per_role | set(airflow_env.airflow_env())


def test_compose_file_validates_with_and_without_the_example_env():
    for args in ((), ("--env-file", str(ENV_EXAMPLE))):
        res = _compose(*args, "config", "-q")
        assert res.returncode == 0, f"docker-compose config {args}: {res.stderr}"


def test_stack_has_every_part_of_the_scaled_out_column():
    services = _resolved()["services"]
    want = {"postgres", "redis", "minio", "minio-bucket", "spark-master", "spark-worker", "airflow-init",
            "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
            "superset"}
    assert want <= set(services)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert services["airflow-scheduler"]["environment"]["LAKEHOUSE_AIRFLOW_METADATA"] == "postgres"
    assert services["airflow-worker"]["environment"]["LAKEHOUSE_LAKE"].startswith("s3a://")
    assert services["airflow-worker"]["environment"]["LAKEHOUSE_SPARK_MASTER"] == "spark://spark-master:7077"


def test_every_variable_set_for_the_project_is_one_it_reads():
    reads = _project_reads()
    unknown = {}
    for name, service in _resolved()["services"].items():
        if service.get("image") != PROJECT_IMAGE:
            continue
        extra = set(service.get("environment") or {}) - reads - STANDARD
        if extra:
            unknown[name] = sorted(extra)
    assert not unknown, (f"variables the project does not read (add them to src/lakehouse/config.py, or to "
                         f"STANDARD if they are the tool's own): {unknown}")


def test_example_env_names_every_substituted_variable():
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
               if "=" in line and not line.startswith("#")}
    assert used == example, f"only in compose: {sorted(used - example)}, only in .env.example: {sorted(example - used)}"


def test_image_is_pinned():
    text = "\n".join((DOCKER / name).read_text(encoding="utf-8") for name in ("Dockerfile", "superset.Dockerfile"))
    for line in text.splitlines():
        if line.startswith("FROM "):
            image = line.split()[1]
            assert ":" in image and not image.endswith(":latest"), line
    for service in _resolved()["services"].values():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), service
