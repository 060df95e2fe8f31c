# The pipeline image for Kubeflow Pipelines v2 / Vertex AI Pipelines: every
# component runs in it (`mtrec compile kubeflow --image <registry>/mtrec:<tag>`).
# TFX 1.16 supports Python 3.9-3.10; the constraints are the same full pins
# the local environment installs.
FROM python:3.10-slim

ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONUNBUFFERED=1

WORKDIR /opt/mtrec
COPY constraints.txt pyproject.toml README.md ./
COPY pipeline pipeline
COPY components components
COPY trainer_module trainer_module
COPY serving serving
COPY benchmarks benchmarks
COPY data data
RUN pip install --no-cache-dir --upgrade "pip>=24" \
 && pip install --no-cache-dir -c constraints.txt .

# KubeflowV2DagRunner's default command runs the TFX container entrypoint.
ENTRYPOINT []
