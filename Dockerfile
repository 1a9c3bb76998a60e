# syntax=docker/dockerfile:1
# One image for the API (`mlts serve`), the flows (`mlts schedule`, `mlts train`, `mlts retrain`)
# and the MLflow and Prefect servers of docker-compose. Nothing secret is baked in: every
# setting comes from the environment at run time.

# --- build: dependencies from the lock file in their own layer, then mlts itself -------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock /tmp/requirements.lock
RUN pip install -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY ml /src/ml
COPY core /src/core
COPY pipelines /src/pipelines
COPY serving /src/serving
COPY mlts /src/mlts
RUN pip install --no-deps /src

# --- runtime: the virtualenv only, as a non-root user ------------------------------------------
FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin mlts \
 && mkdir -p /app /data && chown mlts:mlts /app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=mlts:mlts series.yaml MLproject conda.yaml ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLTS_HOME=/data \
    PORT=8000
USER mlts
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1
CMD ["mlts", "serve"]
