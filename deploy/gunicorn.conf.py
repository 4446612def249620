"""gunicorn settings for the studio's web process; the Procfile and deploy/systemd use this file.

Everything an operator may want to change comes from the environment, like the studio's own
settings: PORT / STUDIO_BIND, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS.
"""

from __future__ import annotations

import multiprocessing
import os

# Behind a proxy on the same host: listen on loopback only. A platform that routes to $PORT
# from outside (Heroku-style) passes --bind 0.0.0.0:$PORT, as the Procfile does.
bind = os.environ.get("STUDIO_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Uvicorn workers serving studio.asgi: the API's waits for jobs (up to STUDIO_API_WAIT_SECONDS)
# are coroutines, so they hold no worker; the pages, all short, run on threads as under WSGI.
worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files on tmpfs: a worker blocked on a slow disk is not mistaken for a hung one.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Which proxies may set X-Forwarded-* (the studio trusts X-Forwarded-Proto for HTTPS).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No access log by default: share links are capability URLs, and a log of paths keeps their
# tokens. Errors still go to stderr.
accesslog = os.environ.get("STUDIO_ACCESS_LOG") or None
errorlog = "-"
