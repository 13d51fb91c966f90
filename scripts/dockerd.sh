#!/usr/bin/env bash
# start|stop a Docker engine on a private socket, with a local busybox image tagged as the
# walkthrough's images (nginx, httpd). No registry is reachable, so the image is built locally.
set -euo pipefail
D=/tmp/pyconsul-dockerd
SOCK=unix://$D/docker.sock
case "${1:-start}" in
start)
  mkdir -p "$D"
  if ! curl -sf --unix-socket "$D/docker.sock" http://d/_ping >/dev/null 2>&1; then
    # TMPDIR is the engine's own: one inherited from a test process (its private tmp, removed when
    # that process ends) would break every later `docker exec` ("runc-process...: no such file").
    mkdir -p "$D/tmp"
    TMPDIR=$D/tmp nohup dockerd --host "$SOCK" --data-root "$D/data" --exec-root "$D/exec" \
      --pidfile "$D/dockerd.pid" >"$D/dockerd.log" 2>&1 &
    for _ in $(seq 1 300); do
      curl -sf --unix-socket "$D/docker.sock" http://d/_ping >/dev/null 2>&1 && break
      sleep 0.2
    done
  fi
  curl -sf --unix-socket "$D/docker.sock" http://d/_ping >/dev/null || { cat "$D/dockerd.log"; exit 1; }
  if ! docker -H "$SOCK" image inspect localhost/busybox:latest >/dev/null 2>&1; then
    R=$(mktemp -d); mkdir -p "$R/bin" "$R/tmp" "$R/etc" "$R/www"; cp /bin/busybox "$R/bin/"
    for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
    echo 'root:x:0:0:root:/:/bin/sh' >"$R/etc/passwd"; echo 'root:x:0:' >"$R/etc/group"
    echo hello >"$R/www/index.html"
    tar -C "$R" -c . | docker -H "$SOCK" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - \
      localhost/busybox:latest >/dev/null
    rm -rf "$R"
  fi
  for tag in nginx httpd; do docker -H "$SOCK" tag localhost/busybox:latest "$tag:latest"; done
  ;;
stop)
  if [ -f "$D/dockerd.pid" ]; then
    kill "$(cat "$D/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do [ -f "$D/dockerd.pid" ] || break; sleep 0.1; done
  fi
  ;;
esac
