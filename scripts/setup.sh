#!/usr/bin/env bash
# One-time (and idempotent) set-up of the embedded default: virtualenv and
# pinned packages, Delta and s3a jars from Maven Central, the project-local
# PostgreSQL cluster, and Airflow's SQLite metadata DB. Safe to run again:
# every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export LAKEHOUSE_HOME=${LAKEHOUSE_HOME:-$REPO/.lakehouse}
VENV=${LAKEHOUSE_VENV:-$REPO/.venv}
JARS=${LAKEHOUSE_JARS_DIR:-$LAKEHOUSE_HOME/jars}
PYTHON=${PYTHON:-python3.11}
mkdir -p "$LAKEHOUSE_HOME"

die() { echo "setup: $*" >&2; exit 1; }
step() { printf '[setup] %s\n' "$*"; }
# The tools' own output (pip, Maven, apt) goes to a log, shown on the console
# only with LAKEHOUSE_LOG_LEVEL=DEBUG; a failure names the log.
SETUP_LOG="$LAKEHOUSE_HOME/logs/setup.log"
mkdir -p "$(dirname "$SETUP_LOG")"
quiet() {
  if [ "${LAKEHOUSE_LOG_LEVEL:-}" = DEBUG ] || [ "${LAKEHOUSE_LOG_LEVEL:-}" = debug ]; then "$@"; else
    { echo "--- $(date -u +%FT%TZ) $*"; "$@"; } >>"$SETUP_LOG" 2>&1; fi
}

# --- prerequisites, with what to do when missing ---------------------------
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || \
  die "Python 3.11 is required (found: $("$PYTHON" --version 2>&1 || echo none)). Install python3.11 or set PYTHON=/path/to/python3.11."
command -v java >/dev/null || die "Java 17+ is required for Spark. Install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME and PATH."
java_major=$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -1)
[ "${java_major:-0}" -ge 17 ] || die "Java 17+ is required for Spark (found Java ${java_major:-unknown}). Install openjdk-17 and put it first on PATH."
if [ -z "${PGHOST:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null \
   && [ -z "${LAKEHOUSE_PG_BIN:-}" ]; then
  die "PostgreSQL server binaries not found. Install them (Debian: apt-get install postgresql), set LAKEHOUSE_PG_BIN, or set PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE to use an existing server."
fi

# --- virtualenv with pinned packages ----------------------------------------
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  step "creating virtualenv $VENV and installing pinned packages (a few minutes the first time)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  quiet "$VENV/bin/pip" install -q --upgrade pip setuptools wheel \
    || die "pip could not upgrade itself in $VENV (is PyPI reachable?); its output is in $SETUP_LOG"
  quiet "$VENV/bin/pip" install -q -e ".[dev]" \
    || die "pip could not install the project's pinned packages; its output is in $SETUP_LOG"
  rm -f "$VENV"/.installed-*; touch "$stamp"
else
  step "virtualenv up to date"
fi

# --- Delta, s3a and other JVM jars (jvm/pom.xml is the one list) ----------
# Fetched again whenever a jar the pom names is missing (a pom that gained a
# dependency, e.g. hadoop-aws, fills an older jars folder).
missing_jars=$("$VENV/bin/python" - "$JARS" <<'PY'
import sys, xml.etree.ElementTree as ET
from pathlib import Path
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
jars = Path(sys.argv[1])
for dep in ET.parse("jvm/pom.xml").getroot().iterfind("m:dependencies/m:dependency", ns):
    name = f'{dep.findtext("m:artifactId", namespaces=ns)}-{dep.findtext("m:version", namespaces=ns)}.jar'
    if not (jars / name).exists():
        print(name)
PY
)
if [ -n "$missing_jars" ]; then
  command -v mvn >/dev/null || die "Maven is needed once to fetch the JVM jars (apt-get install maven), or put the jars listed in jvm/pom.xml into $JARS (missing: $missing_jars)."
  step "fetching the jars of jvm/pom.xml from Maven Central into $JARS (missing: $(echo $missing_jars))"
  tmp=$(mktemp -d)
  quiet mvn -q -B -Dstyle.color=never -f jvm/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$tmp" \
    || die "Maven could not fetch the jars in jvm/pom.xml (is Maven Central reachable?); its output is in $SETUP_LOG"
  # Spark's own copy of a library wins: keep only jars whose artifact Spark lacks.
  spark_jars=$("$VENV/bin/python" -c 'import pyspark, os; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  mkdir -p "$JARS"
  for jar in "$tmp"/*.jar; do
    name=$(basename "$jar" .jar); artifact=${name%-*}
    ls "$spark_jars/$artifact"-[0-9]*.jar >/dev/null 2>&1 || [ -f "$JARS/$(basename "$jar")" ] || cp "$jar" "$JARS/"
  done
  rm -rf "$tmp"
else
  step "JVM jars of jvm/pom.xml present in $JARS"
fi

# --- system packages some tests need (never a downloaded browser) ---------
# docker-compose only validates docker/ (no Docker engine is needed); Debian's
# chromium and fonts-noto-cjk render the report in the browser test. Installed
# when apt-get can; otherwise one line says what will not work and how to install.
packages=""; uses=""
need() { packages="${packages:+$packages }$1"; uses="${uses:+$uses; }$2"; }
command -v docker-compose >/dev/null || need docker-compose "the docker/ compose validation test fails"
[ -x /usr/bin/chromium ] || need chromium "the report's browser test fails"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need fonts-noto-cjk "the report's Chinese labels do not render in the browser test"
command -v strace >/dev/null || need strace "the test that the Spark driver opens no delivered file fails"
if [ -n "$packages" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || command -v sudo >/dev/null; }; then
    step "installing $packages (apt; its output in $SETUP_LOG)"
    # DPkg::Lock::Timeout: wait for another apt/dpkg run to finish instead of failing at once
    if ! { quiet $SUDO apt-get -q -o DPkg::Lock::Timeout=300 update \
           && quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                -o DPkg::Lock::Timeout=300 $packages; }; then
      why=$(grep -E '^E: ' "$SETUP_LOG" | tail -1)
      echo "[setup] warning: could not install $packages (${why:-apt-get failed}; see $SETUP_LOG): without them $uses; install them with: ${SUDO:+sudo }apt-get install $packages" >&2
    fi
  else
    echo "[setup] warning: $packages not installed (no apt-get${SUDO:+ or sudo} here): without them $uses; install them with your system's package manager (Debian: apt-get install $packages)" >&2
  fi
else
  step "docker-compose, chromium, fonts-noto-cjk and strace present"
fi

# --- PostgreSQL (embedded unless PGHOST is set) and Airflow metadata --------
"$VENV/bin/lakehouse" db start
"$VENV/bin/lakehouse" airflow-init
step "done"
