# ModelGuard operator image for Docker users. `make e2e-local` builds the same image without Docker
# (hack/images/build.sh: mmdebstrap + umoci); e2e/test_00_images.py checks that both describe the same
# image: Debian bookworm's python3, a venv at /opt/modelguard with exactly hack/images/operator-requirements.txt
# and this checkout, user 65532 (named nonroot), entrypoint `modelguard run`, no pip and no compilers.
# Pin the base by digest where you build (docker buildx imagetools inspect debian:bookworm-slim).
ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
WORKDIR /src
COPY hack/images/operator-requirements.txt ./requirements.txt
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python3 -m venv /opt/modelguard \
 && /opt/modelguard/bin/pip install --no-cache-dir --only-binary=:all: --no-deps -r requirements.txt \
 && /opt/modelguard/bin/pip install --no-cache-dir --no-deps . \
 && /opt/modelguard/bin/pip uninstall -y pip setuptools \
 && find /opt/modelguard -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "nonroot:x:65532:" >> /etc/group
COPY --from=build /opt/modelguard /opt/modelguard
ENV PATH=/opt/modelguard/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["modelguard"]
CMD ["run"]
