"""The OpenAI-compatible API through the production server, as the Procfile runs it
(gunicorn with uvicorn workers on studio.asgi, deploy/gunicorn.conf.py) with one real qcluster.

1. Generations on the demo vendor under concurrent clients: throughput and latency of
   `POST /v1/images/generations`, against one client alone in the same run (the baseline).
2. 100 clients waiting at once on an asynchronous fake vendor (chatbp's fake, each task taking
   WAIT_TASK_S): the gallery page's median latency while they wait, against its idle median in
   the same run. Goal: under 3×; and every waiting client gets its image.

The load generator, the fake vendor, gunicorn and the worker share the machine's cores.
Ports: gunicorn on 18610, the fake vendor on 18611 (this helper's range).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks import harness

WEB_PORT = 18610
FAKE_PORT = 18611
DEMO_CLIENTS = 16
DEMO_SECONDS = int(os.environ.get("BENCH_API_DEMO_S", 30))
IDLE_DEMO_REQUESTS = 4
WAITERS = int(os.environ.get("BENCH_API_WAITERS", 100))
WAIT_TASK_S = float(os.environ.get("BENCH_API_TASK_S", 45))
GALLERY_REQUESTS = 60
GALLERY_IMAGES = 200


def start_web(tmp: Path) -> tuple[subprocess.Popen, object]:
    from django.conf import settings

    from tests.worker import worker_env

    env = worker_env(
        {
            "PORT": str(WEB_PORT),
            "STATIC_ROOT": str(settings.STATIC_ROOT),
            # The token's own limit is not what is measured here.
            "STUDIO_API_RATE_LIMIT": "1000000",
        }
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    procfile = (harness.ROOT / "Procfile").read_text()
    web = next(line for line in procfile.splitlines() if line.startswith("web:"))
    args = web.removeprefix("web:").replace("0.0.0.0:${PORT:-8000}", f"127.0.0.1:{WEB_PORT}")
    log = open(tmp / "web.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        args.split(),
        cwd=harness.ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wait_up(base: str, tmp: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", headers=HTTPS, trust_env=False).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError((tmp / "web.log").read_text(errors="replace"))


HTTPS = {"X-Forwarded-Proto": "https"}


def generate(client, prompt: str, model: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    r = client.post("/v1/images/generations", json={"model": model, "prompt": prompt})
    images = len(r.json().get("data", [])) if r.status_code == 200 else 0
    return time.perf_counter() - started, r.status_code, images


def demo_load(base: str, token: str) -> dict:
    import httpx

    headers = {**HTTPS, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=180) as c:
        idle = [generate(c, f"idle {i}", "demo/demo")[0] for i in range(IDLE_DEMO_REQUESTS)]
    latencies, errors, images = [], 0, 0
    lock = threading.Lock()
    stop_at = time.monotonic() + DEMO_SECONDS

    def client(n: int) -> None:
        nonlocal errors, images
        with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=180) as c:
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                seconds, status, got = generate(c, f"load {n}-{i}", "demo/demo")
                with lock:
                    latencies.append(seconds)
                    errors += status != 200
                    images += got

    threads = [threading.Thread(target=client, args=(n,)) for n in range(DEMO_CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "clients": DEMO_CLIENTS,
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": errors,
        "images_per_second": images / elapsed,
        "latency_s": harness.summary(latencies),
        "idle_latency_s": harness.summary(idle),
    }


def gallery_median(base: str, cookie_headers: dict) -> dict:
    import httpx

    latencies = []
    with httpx.Client(base_url=base, headers=cookie_headers, trust_env=False, timeout=60) as c:
        for _ in range(GALLERY_REQUESTS):
            started = time.perf_counter()
            r = c.get("/gallery/")
            assert r.status_code == 200, r.status_code
            latencies.append((time.perf_counter() - started) * 1000)
    return harness.summary(latencies)


def waiting_clients(base: str, token: str, cookie_headers: dict, owner) -> dict:
    """WAITERS requests waiting on the slow vendor; the gallery measured while they wait."""
    import httpx

    from studio.models import Generation

    results: list[tuple[float, int, int]] = []
    failures: list[str] = []

    async def one(client, i: int) -> None:
        started = time.perf_counter()
        body = {"model": "chatbp/dall-e-3", "prompt": f"wait {i}", "size": "1024x1024"}
        r = await client.post("/v1/images/generations", json=body)
        images = len(r.json().get("data", [])) if r.status_code == 200 else 0
        results.append((time.perf_counter() - started, r.status_code, images))
        if r.status_code != 200:
            failures.append(r.text[:300])

    async def all_of_them() -> None:
        limits = httpx.Limits(max_connections=WAITERS + 10)
        headers = {**HTTPS, "Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=base, headers=headers, trust_env=False, timeout=300, limits=limits
        ) as client:
            await asyncio.gather(*(one(client, i) for i in range(WAITERS)))

    runner = threading.Thread(target=asyncio.run, args=(all_of_them(),))
    started = time.monotonic()
    runner.start()
    running = Generation.objects.filter(owner=owner, vendor="chatbp", status="running")
    while running.count() < WAITERS and time.monotonic() - started < WAIT_TASK_S / 2:
        time.sleep(0.5)
    in_flight = running.count()
    loaded = gallery_median(base, cookie_headers)
    # Every waiter was still waiting while the gallery was measured.
    still_waiting = WAITERS - len(results)
    runner.join()
    latencies = [r[0] for r in results]
    return {
        "waiters": WAITERS,
        "vendor_task_s": WAIT_TASK_S,
        "running_when_measured": in_flight,
        "still_waiting_after_gallery": still_waiting,
        "gallery_ms": loaded,
        "ok": sum(1 for r in results if r[1] == 200 and r[2] == 1),
        "statuses": sorted({r[1] for r in results}),
        "failures": failures[:3],
        "reply_s": harness.summary(latencies),
    }


def main(argv: list[str] | None = None) -> dict:
    argparse.ArgumentParser(prog="python -m benchmarks.api").parse_args(argv)
    tmp = harness.setup("api")
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from accounts.vault import add_credential
    from benchmarks.engine import KEY, bench_fake
    from benchmarks.gallery import fill, session_cookie
    from studio.api import services
    from tests.worker import Worker, wait_for

    owner = User.objects.create_user("alice", "alice@example.com", "x" * 20)
    fill(owner, GALLERY_IMAGES)
    call_command("collectstatic", "--noinput", verbosity=0)
    durations = {f"wait {i}": WAIT_TASK_S for i in range(WAITERS)}
    fake = bench_fake("chatbp", durations, port=FAKE_PORT)
    settings.STUDIO_VENDOR_URLS = {"chatbp": fake.url}
    add_credential(owner, "chatbp", "bench", KEY)
    _token, token = services.create_token(owner, name="bench", scope="generate")
    poll = json.dumps({"chatbp": 1.0})
    log_dir = tmp / "worker-logs"
    log_dir.mkdir()
    worker = Worker(log_dir)
    worker.start(STUDIO_VENDOR_POLL=poll)
    wait_for(lambda: "ready for work" in worker.output(), 60, message="no worker")
    os.environ["STUDIO_VENDOR_POLL"] = poll
    proc, log = start_web(tmp)
    base = f"http://127.0.0.1:{WEB_PORT}"
    cookie = {**HTTPS, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie(owner)}"}
    result = {"machine": harness.machine(), "database": harness.database_label()}
    try:
        wait_up(base, tmp)
        result["demo"] = demo_load(base, token)
        result["gallery_idle_ms"] = gallery_median(base, cookie)
        result["waiting"] = waiting_clients(base, token, cookie, owner)
    finally:
        stop(proc)
        log.close()
        worker.stop()
        fake.stop()
    result["web_workers"] = os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) * 2 + 1
    harness.record("api", result)
    print("\n".join(report(result)), flush=True)
    return result


def report(result: dict) -> list[str]:
    line = harness.line
    demo, waiting = result["demo"], result["waiting"]
    idle, loaded = demo["idle_latency_s"], demo["latency_s"]
    ratio = loaded["median"] / idle["median"]
    idle_gallery = result["gallery_idle_ms"]["median"]
    gallery_ratio = waiting["gallery_ms"]["median"] / idle_gallery
    every_image = waiting["ok"] == waiting["waiters"]
    return [
        f"API ({result['database']}, gunicorn with {result['web_workers']} uvicorn workers, "
        f"1 qcluster; {result['machine']['date']}, load {result['machine']['load_1m_at_start']})",
        line(
            "demo, 1 client: latency median / p95",
            f"{idle['median']:.2f} / {idle['p95']:.2f} s",
        ),
        line(
            f"demo, {demo['clients']} clients: images/s",
            f"{demo['images_per_second']:.2f} ({demo['requests']} requests)",
        ),
        line(
            f"demo, {demo['clients']} clients: latency median / p95",
            f"{loaded['median']:.2f} / {loaded['p95']:.2f} s",
        ),
        line(
            "demo: loaded ÷ idle median latency, errors",
            f"{ratio:.2f}×, {demo['errors']} errors",
            "≤ 2×, 0 errors",
            ratio <= 2 and demo["errors"] == 0,
        ),
        line("gallery idle: median / p95", _ms(result["gallery_idle_ms"])),
        line(
            f"gallery, {waiting['waiters']} API clients waiting: median / p95",
            _ms(waiting["gallery_ms"]),
        ),
        line(
            "gallery while waiting ÷ idle median",
            f"{gallery_ratio:.2f}×",
            "< 3×",
            gallery_ratio < 3,
        ),
        line(
            "waiting clients that got their image",
            f"{waiting['ok']} of {waiting['waiters']} (statuses {waiting['statuses']})",
            "all",
            every_image,
        ),
        line(
            f"their reply time (vendor takes {waiting['vendor_task_s']:.0f} s): median / max",
            f"{waiting['reply_s']['median']:.1f} / {waiting['reply_s']['max']:.1f} s",
        ),
        line(
            "jobs running at the vendor when the gallery was timed",
            f"{waiting['running_when_measured']} (still waiting after: "
            f"{waiting['still_waiting_after_gallery']})",
        ),
    ]


def _ms(summary: dict) -> str:
    return f"{summary['median']:.1f} / {summary['p95']:.1f} ms"


if __name__ == "__main__":
    main()
