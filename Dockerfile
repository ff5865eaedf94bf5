# syntax=docker/dockerfile:1
# The victims-code pipeline on Airflow 3.3.2: the official image plus exactly the versions in uv.lock.
#
#   docker compose build          (docker-compose.yaml builds this for every Airflow service)
#
# The official image brings Airflow's own runtime (Celery executor, Redis client, entrypoint);
# everything our DAGs import is installed from the lock file, hash-checked, and `pip check`
# proves the two agree. No _PIP_ADDITIONAL_REQUIREMENTS: nothing is resolved at container start.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${AIRFLOW_IMAGE}
COPY --from=uv /uv /usr/local/bin/uv

USER airflow
WORKDIR /opt/vcp

# Dependencies first (cached until the lock changes), then the project itself.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
RUN uv export --frozen --no-dev --no-emit-project --format requirements.txt -o /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps --require-hashes -r /tmp/requirements.txt \
 && pip check \
 && rm /tmp/requirements.txt

COPY --chown=airflow:0 vcpipeline ./vcpipeline
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import vcpipeline.tasks.nightly, vcpipeline.orchestration.notify"

# dags/, plugins/, expectations/, sql/, out/ and var/ are mounted by docker-compose.yaml.
ENV VCP_VAR_DIR=/opt/vcp/var \
    VCP_OUT_DIR=/opt/vcp/out
