# Container image for ams-job-exporter.
#
#   docker build -t ams-job-exporter \
#     --build-arg VERSION=$(python3 -c 'import exporter; print(exporter.__version__)') \
#     --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run --read-only --tmpfs /tmp -p 10046:10046 \
#     -v $PWD/config.yaml:/etc/ams-job-exporter/config.yaml:ro ams-job-exporter
#
# Of the base image only `python3` with the venv module is assumed, so any Debian-like
# Python image works (BASE_IMAGE); both stages use the same base, so the venv's
# interpreter link (/opt/venv/bin/python3 -> the base's python3) stays valid.
# The runtime stage runs as the numeric non-root user 65532 and writes nothing to
# its root filesystem: it runs with --read-only (Kubernetes: readOnlyRootFilesystem)
# given a writable /tmp.

ARG BASE_IMAGE=python:3.12-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${BASE_IMAGE} AS build
# Names the (untagged) build-stage image, so old ones can be found and removed.
LABEL org.opencontainers.image.title="ams-job-exporter-build"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the package build reads (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# pip compiles the installed modules to .pyc here, so the read-only runtime never
# needs to write bytecode. pip itself is not needed at run time: uninstall it.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/ams-job-exporter --version \
    && /opt/venv/bin/python3 -m pip uninstall --yes --quiet pip setuptools \
    && rm -rf /root/.cache

# ---------------------------------------------------------------- runtime stage
FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://git.example.com/ams-job-exporter
LABEL org.opencontainers.image.title="ams-job-exporter" \
      org.opencontainers.image.description="Prometheus exporter for media encoding jobs (MK.IO, RMS, AMS v2/v3)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
# HOME points at the writable /tmp: uid 65532 has no passwd entry and the root
# filesystem is read-only.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/venv /opt/venv
USER 65532:65532
EXPOSE 10046
ENTRYPOINT ["/opt/venv/bin/ams-job-exporter"]
CMD ["--config.file", "/etc/ams-job-exporter/config.yaml"]
