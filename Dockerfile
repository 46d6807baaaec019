# The SEI satellite as a container image (see docs/deploy.md).
#
#   docker build -t sei-satellite .
#   docker run ... sei-satellite                 # runs: satellite run -c /etc/sei-satellite/satellite.yml
#
# BASE_IMAGE is any Debian-like image with python3 (>= 3.11) and its venv module; the default is
# the official slim image. Pin it by digest in your own builds (--build-arg BASE_IMAGE=...@sha256:...).
# Both stages use the same base, so the venv's python symlink is valid in the final image.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
# Two venvs: /opt/satellite ships; /opt/build only builds the wheel (hatchling) and is dropped.
RUN python3 -m venv /opt/satellite \
 && python3 -m venv /opt/build \
 && /opt/build/bin/pip install -q "hatchling>=1.25"
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/satellite/bin/pip install -q -r /tmp/requirements.txt
# Then the source: a wheel built without network, installed without touching the dependencies.
COPY README.md ./
COPY satellite satellite
RUN /opt/build/bin/python -m pip wheel -q --no-deps --no-build-isolation -w /tmp/wheels . \
 && /opt/satellite/bin/pip install -q --no-deps --no-compile /tmp/wheels/*.whl \
 && /opt/satellite/bin/python -m compileall -q /opt/satellite/lib \
 && /opt/satellite/bin/pip uninstall -q -y pip

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sei-satellite" \
      org.opencontainers.image.description="On-prem agent: collects Azure DevOps Server data and ships sealed batches to SEI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.vendor="SEI"
# A fixed numeric uid/gid (Kubernetes runAsNonRoot can only verify a numeric USER). Only the
# data directory is writable by it; everything else may be mounted read-only (--read-only).
RUN groupadd --gid 10001 satellite \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/sei-satellite \
      --shell /usr/sbin/nologin satellite \
 && mkdir -p /var/lib/sei-satellite /etc/sei-satellite /var/run/secrets/sei-satellite \
 && chown 10001:10001 /var/lib/sei-satellite \
 && chmod 0750 /var/lib/sei-satellite
COPY --from=build /opt/satellite /opt/satellite
ENV PATH=/opt/satellite/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /var/lib/sei-satellite
EXPOSE 8080
# For plain Docker; Kubernetes uses the chart's probes. Python, because the image has no curl.
# Set SATELLITE_HEALTHCHECK_URL when satellite.http.listen is not the default 0.0.0.0:8080.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/opt/satellite/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('SATELLITE_HEALTHCHECK_URL') or 'http://127.0.0.1:8080/healthz', timeout=4)"]
# Exec form: satellite is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["satellite"]
CMD ["run", "-c", "/etc/sei-satellite/satellite.yml"]
