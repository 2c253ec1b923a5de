# The slawatch worker image: `docker build -t slawatch .` from the repository root.
#
# One stream worker per container; it reads SLAWATCH_* variables (docs/production.md) and
# serves /metrics, /health and /ready on port 6066. Policies, topics and alerts are read from
# /etc/slawatch (the repository's config/ is baked in as a default; mount your own over it).
# Table state lives in RocksDB under /var/lib/slawatch: give it a volume so restarts are warm.

# The base is pinned by digest, so a rebuild gets the same bytes; bump tag and digest together
# (`docker buildx imagetools inspect python:3.11-slim-bookworm`) to take security fixes.
FROM python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16 AS build
WORKDIR /src
# Dependencies first, exactly as locked (requirements.lock, scripts/lock_requirements.py); the
# rocksdb extra's rocksdict is in it, which Faust uses for SLAWATCH_STORE=rocksdb://.
COPY requirements.lock ./
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install -r requirements.lock
COPY pyproject.toml README.md ./
COPY sla ./sla
COPY sources ./sources
COPY streams ./streams
COPY alerts ./alerts
COPY generators ./generators
COPY slawatch ./slawatch
# slawatch/config links to config/: the installed package carries the default configuration.
COPY config ./config
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install --no-deps .

FROM python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16
RUN useradd --system --uid 10001 --user-group --no-create-home slawatch \
    && install -d -o 10001 -g 10001 /var/lib/slawatch
COPY --from=build /install /usr/local
COPY config /etc/slawatch
ENV PYTHONUNBUFFERED=1 \
    SLAWATCH_WEB_HOST=0.0.0.0 \
    SLAWATCH_WEB_PORT=6066 \
    SLAWATCH_STORE=rocksdb:// \
    SLAWATCH_DATADIR=/var/lib/slawatch \
    SLAWATCH_POLICIES=/etc/slawatch/policies.yaml \
    SLAWATCH_TOPICS=/etc/slawatch/topics.yaml \
    SLAWATCH_ALERTS=/etc/slawatch/alerts.yaml \
    SLAWATCH_LOG_FORMAT=json
USER 10001
WORKDIR /var/lib/slawatch
VOLUME ["/var/lib/slawatch"]
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SLAWATCH_WEB_PORT', '6066') + '/health', timeout=4)"]
# Faust handles SIGTERM itself: it leaves the consumer group, flushes the producer and
# closes RocksDB before exiting, so the process runs directly (exec form), not under a shell.
STOPSIGNAL SIGTERM
ENTRYPOINT ["slawatch", "worker"]
