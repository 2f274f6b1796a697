# syntax=docker/dockerfile:1
#
# The genesys-stream service image: `genesys-stream run` as a non-root user.
#
#   docker build -t genesys-stream:0.1.0 .
#   docker run --rm genesys-stream:0.1.0          # simulator and local store
#
# NOTE: the base image is pinned by tag only, because no registry could be
# reached where this file was written. For reproducible builds, pin it by
# digest too: `docker buildx imagetools inspect python:3.11-slim-bookworm`
# prints the digest, and the reference becomes
# python:3.11-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# Build: install the project and its runtime dependencies (no dev extras) into
# a virtual environment that the runtime stage copies as is.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY actors/ actors/
COPY handlers/ handlers/
COPY genesys/ genesys/
COPY stores/ stores/
COPY simulator/ simulator/
COPY genesys_stream/ genesys_stream/
RUN pip install .

# ---------------------------------------------------------------------------
# Runtime: the virtual environment, a non-root user, nothing else.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# Unbuffered, so each log and metric line reaches CloudWatch when written.
# Bytecode was compiled at install; the root filesystem is read-only on ECS.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAM_HEALTH_FILE=/run/genesys-stream/health.json

RUN groupadd --system --gid 10001 genesys-stream \
    && useradd --system --uid 10001 --gid genesys-stream \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin genesys-stream \
    && mkdir -p /run/genesys-stream \
    && chown genesys-stream:genesys-stream /run/genesys-stream

COPY --from=build /opt/venv /opt/venv

# The writable paths under a read-only root filesystem. ECS copies the
# contents and ownership of a VOLUME path onto the bind mount of the same
# path, so the service user can write its health file here.
VOLUME ["/run/genesys-stream", "/tmp"]
WORKDIR /run/genesys-stream

USER 10001:10001

# The ECS task definition declares the same check; this one serves `docker run`.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["genesys-stream", "health"]

ENTRYPOINT ["genesys-stream"]
CMD ["run"]
