# One image, three entry points: `pyconsul` (the default), `pyregistrator`, `pytemplate`.
#   docker build -t pyconsul .                      # pulls python:3.11-slim-bookworm
#   scripts/build-base-image.sh && docker build ... # offline: builds that base locally first
# No `# syntax=` line: BuildKit would fetch that frontend from a registry.
# The `ingress` target adds nginx for pytemplate to render and reload (docker-compose.yml).
# Pinned to the Debian release scripts/build-base-image.sh builds from.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 PYTHONPATH=/app
WORKDIR /app
COPY pyproject.toml ./
# The dependencies come from pyproject.toml; the offline base already holds them, so pip has
# nothing to fetch there.
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      >/tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY pyconsul ./pyconsul
COPY pyregistrator ./pyregistrator
COPY pytemplate ./pytemplate
COPY docker/entrypoint.sh docker/healthcheck.py docker/backend.py docker/gateway.py docker/tls-init.sh \
     /usr/local/lib/pyconsul/
# The HTTPS sample backend of examples/ingress (the tls profile's re-encrypt and passthrough backends).
COPY examples/ingress/backend.py /usr/local/lib/pyconsul/ingress-backend.py
# `pyconsul ...`, `pyregistrator ...`, `pytemplate ...` work in `docker compose exec` too.
RUN for m in pyconsul pyregistrator pytemplate; do \
      printf '#!/bin/sh\nexec python -m %s "$@"\n' "$m" >/usr/local/bin/$m && chmod 755 /usr/local/bin/$m; \
    done
RUN groupadd --system --gid 1000 consul \
 && useradd --system --uid 1000 --gid consul --home-dir /consul --shell /usr/sbin/nologin consul \
 && mkdir -p /consul/data /consul/config /consul/tls \
 && chown -R consul:consul /consul \
 && python -m compileall -q /app
USER consul
# 8500 HTTP API + UI, 8600 DNS, 8300 server RPC, 8301 gossip.
EXPOSE 8500 8600/tcp 8600/udp 8300 8301/tcp 8301/udp
# Healthy once the agent answers its HTTP API and knows a leader (a server: a quorum formed).
HEALTHCHECK --interval=2s --timeout=2s --start-period=5s --retries=15 \
  CMD ["python", "/usr/local/lib/pyconsul/healthcheck.py"]
ENTRYPOINT ["/usr/local/lib/pyconsul/entrypoint.sh"]
CMD ["agent", "-dev", "-client=0.0.0.0"]

# pytemplate in front of nginx: pytemplate renders the nginx config and reloads nginx.
FROM app AS ingress
USER root
# The offline base ships nginx and its stream module (TLS passthrough) already; python:3.11-slim-bookworm
# needs them from Debian.
RUN test -f /usr/lib/nginx/modules/ngx_stream_module.so \
 || (apt-get update && apt-get install -y --no-install-recommends nginx libnginx-mod-stream \
     && rm -rf /var/lib/apt/lists/*)
RUN mkdir -p /etc/nginx/conf.d /etc/nginx/stream.d /var/lib/nginx /var/log/nginx /run/nginx \
 && rm -f /etc/nginx/sites-enabled/default \
 && chown -R consul:consul /etc/nginx/conf.d /etc/nginx/stream.d /var/lib/nginx /var/log/nginx /run/nginx
COPY docker/nginx.conf /etc/nginx/nginx.conf
COPY docker/nginx.ctmpl /etc/pytemplate/nginx.ctmpl
# The HTTPS ingress recipes (termination, re-encrypt, passthrough); the compose stack's tls profile renders them.
COPY examples/ingress/termination.ctmpl examples/ingress/reencrypt.ctmpl examples/ingress/passthrough.ctmpl \
     /etc/pytemplate/ingress/
USER consul
EXPOSE 8000 8443 8444 9443
HEALTHCHECK --interval=2s --timeout=2s --start-period=5s --retries=15 \
  CMD ["python", "/usr/local/lib/pyconsul/healthcheck.py", "ingress"]
CMD ["pytemplate", "-consul-addr=client:8500", "-template=/etc/pytemplate/nginx.ctmpl:/etc/nginx/conf.d/upstreams.conf", "-exec=nginx", "-exec-reload-signal=SIGHUP"]
