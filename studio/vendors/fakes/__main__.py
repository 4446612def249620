"""`python -m studio.vendors.fakes <vendor|all> [--port N]`: serve fakes until Ctrl+C."""

from __future__ import annotations

import argparse
import signal
import threading

from studio.vendors.fakes import FAKES, FakeServer, FakeVendor

SAMPLE_CREDITS = 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m studio.vendors.fakes")
    parser.add_argument("vendor", choices=[*FAKES, "all"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="first port (0: any free port)")
    parser.add_argument("--pending", type=float, default=2.0, help="seconds a task is pending")
    parser.add_argument("--processing", type=float, default=4.0, help="seconds it processes")
    args = parser.parse_args(argv)

    vendors = list(FAKES) if args.vendor == "all" else [args.vendor]
    fakes: list[FakeServer] = []
    for offset, vendor in enumerate(vendors):
        port = args.port + offset if args.port else 0
        fake = FakeVendor(
            vendor, args.host, port, pending_s=args.pending, processing_s=args.processing
        )
        fake.add_key(f"sk-fake-{vendor}", SAMPLE_CREDITS, management_token=f"mt-fake-{vendor}")
        fake.add_key("sk-fake-empty", 0)
        fakes.append(fake.start())
        print(
            f"{vendor:14} {fake.url}   key sk-fake-{vendor} ({SAMPLE_CREDITS} credits)", flush=True
        )
    urls = ",".join(f"{f.vendor}={f.url}" for f in fakes)
    print(f"\nSTUDIO_VENDOR_URLS={urls}", flush=True)
    print("Key with no credits: sk-fake-empty. lemondata management token: mt-fake-lemondata.")
    print(
        "Control: GET <url>/_fake/requests, POST <url>/_fake/set {...}. Ctrl+C stops.", flush=True
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for fake in fakes:
            fake.stop()


if __name__ == "__main__":
    main()
