# Superset for the compose stack (the service `superset`): the same pinned
# packages, configuration and dashboards as `lakehouse dashboards start`
# (docs/dashboards.md), in an image of its own so that Superset's
# dependencies never meet the project's.
FROM python:3.11.11-slim-bookworm

RUN useradd --create-home --uid 50001 superset
COPY src/lakehouse/services/superset-requirements.txt /opt/superset/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /opt/superset/requirements.txt
COPY src/lakehouse/services/superset_inside.py src/lakehouse/services/superset_config.py \
     docker/superset-entrypoint.sh /opt/superset/
COPY dashboards /opt/superset/dashboards
USER superset
WORKDIR /home/superset
ENV SUPERSET_CONFIG_PATH=/opt/superset/superset_config.py \
    SUPERSET_METADATA_URI=sqlite:////home/superset/superset.db
EXPOSE 8088
ENTRYPOINT ["bash", "/opt/superset/superset-entrypoint.sh"]
