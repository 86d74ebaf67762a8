# The techhub-lake image: the code location (a Dagster gRPC code server), and the webserver and
# daemon of the docker-compose deployment. Slim, non-root, dependencies from pyproject.toml, no
# secrets: every credential arrives as an environment variable at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    TECHHUB_STATE_DIR=/opt/dagster/state

RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --shell /usr/sbin/nologin dagster

WORKDIR /opt/dagster/app
# dependencies first (a layer that changes only with pyproject.toml), then the package itself
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
COPY techhub_lake ./techhub_lake
RUN pip install --no-deps . \
    && mkdir -p "$DAGSTER_HOME" "$TECHHUB_STATE_DIR" /opt/dagster/compute-logs \
    && chown -R dagster:dagster /opt/dagster

# the deployment's instance (PostgreSQL storage, queued runs) and workspace (the gRPC code location)
COPY --chown=dagster:dagster deploy/compose/dagster.yaml deploy/compose/workspace.yaml "$DAGSTER_HOME"/

USER dagster
EXPOSE 4000 3000
# the code location; docker-compose.yml runs the webserver and the daemon from the same image
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "techhub_lake.definitions", "--location-name", "techhub_lake"]
