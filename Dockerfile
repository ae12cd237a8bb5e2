# mara in a container: the locked dependencies of `make install`, the `mara` command as entry
# point, serving the project home mounted at /srv/mara. Build from the repository root:
#   docker build -t mara .                            # uvicorn workers
#   docker build -t mara-ray --build-arg EXTRAS=ray . # with Ray Serve (--engine ray)
# It serves on 0.0.0.0, so it needs tokens (MARA_TOKENS_FILE, e.g. a secret under /run/secrets,
# or MARA_TOKEN); without one it refuses to start (see README, "Security").
FROM python:3.11-slim

ARG EXTRAS=""
ENV UV_PROJECT_ENVIRONMENT=/opt/mara/.venv \
    PATH=/opt/mara/.venv/bin:$PATH \
    MARA_HOME=/srv/mara \
    PYTHONUNBUFFERED=1

WORKDIR /opt/mara
# LightGBM's wheel links against the system's OpenMP runtime, which the slim image lacks.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --compile-bytecode ${EXTRAS:+--extra $EXTRAS} \
    && useradd --create-home --uid 1000 mara \
    && mkdir -p /srv/mara /srv/mlflow && chown mara /srv/mara /srv/mlflow

USER mara
VOLUME /srv/mara
EXPOSE 5040
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s \
    CMD ["python", "-c", "import sys, httpx; sys.exit(httpx.get('http://127.0.0.1:5040/health').status_code != 200)"]
ENTRYPOINT ["mara"]
CMD ["serve", "--host", "0.0.0.0", "--port", "5040", "--workers", "2"]
