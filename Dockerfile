# The project's one image, two entry points: the media server (the default command: one UDP port for all
# media, a TCP control port, HTTP metrics) and the signalling gateway (`python -m signaling_gateway`, which
# serves web_client/ from the working directory). deploy/compose.yaml and deploy/k8s/ run both.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mediaserver ./mediaserver
COPY signaling_gateway ./signaling_gateway
COPY benchmarks ./benchmarks
COPY web_client ./web_client
# /recordings belongs to the unprivileged user, so a named volume mounted there is writable by it.
RUN pip install --no-cache-dir . && useradd --system --uid 10001 media && mkdir /recordings && chown media /recordings
USER media

# MEDIA_PUBLIC_IP must be the address browsers reach (the host's public IP behind NAT).
ENV MEDIA_BIND=0.0.0.0 MEDIA_UDP_PORT=7882 MEDIA_CONTROL_HOST=0.0.0.0 MEDIA_CONTROL_PORT=7881 \
    MEDIA_METRICS_PORT=7883 RECORDINGS_DIR=/recordings
EXPOSE 7882/udp 7881/tcp 7883/tcp
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:7883/healthz', timeout=2)" || exit 1
CMD ["python", "-m", "mediaserver"]
