# ModelGuard operator image: non-root, base pinned by digest, no build tools in the final stage.
# The digest is python:3.11.10-slim-bookworm as published; refresh it with
#   docker buildx imagetools inspect docker.io/library/python:3.11-slim-bookworm
ARG PYTHON=docker.io/library/python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

FROM ${PYTHON} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN python -m venv /opt/modelguard \
 && /opt/modelguard/bin/pip install --no-cache-dir . \
 && /opt/modelguard/bin/pip uninstall -y pip setuptools \
 && find /opt/modelguard -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON}
RUN python -m pip uninstall -y pip setuptools wheel \
 && rm -rf /root/.cache /usr/local/lib/python3.11/ensurepip
COPY --from=build /opt/modelguard /opt/modelguard
ENV PATH=/opt/modelguard/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["modelguard"]
CMD ["run"]
