# The KubeProbe image: the `kubeprobe` command (center, resident operator, runners).
# Build it with scripts/build-image (docker or podman; no make). The operator's Deployment
# (src/kubeprobe/operator/manifests/deployment.yaml) runs it as `kubeprobe operator run`.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && rm -rf /src
# The operator's report outbox lives here (an emptyDir in the Deployment); no root needed.
USER 65532:65532
WORKDIR /var/lib/kubeprobe
ENTRYPOINT ["kubeprobe"]
