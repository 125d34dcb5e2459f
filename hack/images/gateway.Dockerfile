# The gateway image (nginx from Debian, non-root) for Docker users; hack/images/build.sh builds the same
# without Docker. The operator runs it with a generated configuration on a read-only root file system.
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && echo "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "nonroot:x:65532:" >> /etc/group
USER 65532:65532
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
