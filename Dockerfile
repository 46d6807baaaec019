# The SEI satellite as a container image (see docs/deploy.md).
#
#   docker build -t sei-satellite \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   podman build --format docker ...          # podman's default (OCI) format drops the HEALTHCHECK
#   docker run ... sei-satellite               # runs: satellite run -c /etc/sei-satellite/satellite.yml
#
# BASE_IMAGE is any Debian-like image with python3 (>= 3.11) and its venv module; the default is
# the official slim image. Pin it by digest in your own builds (--build-arg BASE_IMAGE=...@sha256:...).
# Every stage uses the same base, so the venv's python symlink is valid in the final image.
#
# Every package is installed from requirements/*.lock with --require-hashes (the locks come from
# scripts/lock-dependencies.py). The final image has two layers of its own on top of the base and
# the user/directories layer: the dependencies (/opt/satellite without the app; rebuilt only when
# requirements/runtime.lock changes) and, last and small, the app, its `satellite` script and the
# SBOM. pip, setuptools and wheel never enter /opt/satellite.
ARG BASE_IMAGE=python:3.12-slim

# Build tools (hatchling, cyclonedx-py) in /opt/build, and the runtime dependencies alone in
# /opt/satellite, a venv made without pip: the build venv's pip installs into it.
FROM ${BASE_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/build.lock requirements/runtime.lock requirements/
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install -q --require-hashes -r requirements/build.lock \
 && python3 -m venv --without-pip /opt/satellite \
 && /opt/build/bin/pip --python /opt/satellite/bin/python install -q --require-hashes -r requirements/runtime.lock

# The app: a wheel built without network, installed under /out (only its own files: the package,
# its dist-info, bin/satellite), then into the venv too, so the SBOM lists what the image holds.
FROM deps AS app
COPY pyproject.toml README.md ./
COPY satellite satellite
RUN /opt/build/bin/python -m pip wheel -q --no-deps --no-build-isolation -w /tmp/wheels . \
 && /opt/build/bin/pip --python /opt/satellite/bin/python install -q --no-deps --no-warn-script-location --root /out /tmp/wheels/*.whl \
 && cp -a /out/. / \
 && mkdir -p /out/usr/share/satellite \
 && /opt/build/bin/cyclonedx-py environment --output-reproducible --output-format JSON \
      --pyproject pyproject.toml --output-file /out/usr/share/satellite/sbom.cdx.json /opt/satellite/bin/python

FROM ${BASE_IMAGE}
# A fixed numeric uid/gid (Kubernetes runAsNonRoot can only verify a numeric USER). Only the
# data directory is writable by it; everything else may be mounted read-only (--read-only).
# The base's own pip/setuptools/wheel go too (the official image has them; nothing uses them).
RUN { python3 -m pip uninstall -q -y pip setuptools wheel >/dev/null 2>&1 || true; } \
 && groupadd --gid 10001 satellite \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/sei-satellite \
      --shell /usr/sbin/nologin satellite \
 && mkdir -p /var/lib/sei-satellite /etc/sei-satellite /var/run/secrets/sei-satellite \
 && chown 10001:10001 /var/lib/sei-satellite \
 && chmod 0750 /var/lib/sei-satellite
# The dependencies layer, then the app layer (the last one: a source change rewrites only it).
COPY --from=deps /opt/satellite /opt/satellite
COPY --from=app /out/ /
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
# Last, so a new revision changes the image's config and no layer.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="sei-satellite" \
      org.opencontainers.image.description="On-prem agent: collects Azure DevOps Server data and ships sealed batches to SEI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.vendor="SEI"
