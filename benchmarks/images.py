"""Images: how fast `studio.engine.images.process()` turns a vendor result into the stored file
and its thumbnail, and how much memory it takes, for 1024×1024 and 2048×2048 results.

Each size runs in a fresh child process, so that its peak memory (the kernel's high-water mark
of resident memory, ru_maxrss) is its own. Two measurements per size:

- serial: one result after another, as one worker thread would (thumbnails per second);
- burst: BURST results at once in BURST threads, as the poller's thread pool does when many
  jobs finish together (peak memory is what matters here).

Inputs are photo-like PNGs (smooth colour fields, sharp text, sensor-like noise), the format
most vendors send; their size is close to what image models return (about 2 MB at 1024×1024).

Run: `python -m benchmarks.images`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time

from PIL import Image

from benchmarks import harness

SIZES = {1024: 12, 2048: 4}  # pixels per side: results processed one after another
BURST = 16  # the poller's default thread pool (STUDIO_POLL_CONCURRENCY)
PAGE = os.sysconf("SC_PAGE_SIZE")


def photo_like(side: int, seed: int = 1) -> bytes:
    """A PNG that compresses like a generated picture does, not like a flat test gradient."""
    import random

    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    field = Image.new("RGB", (8, 8))
    field.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(64)])
    image = field.resize((side, side), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(side), rng.randrange(side)
        r = rng.randrange(side // 40, side // 6)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=max(2, side // 200))
    image = image.filter(ImageFilter.GaussianBlur(side / 800))
    noise = Image.effect_noise((side, side), 24).convert("RGB")
    image = Image.blend(image, noise, 0.12)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


class PeakMemory:
    """Samples this process's resident memory every 2 ms while the block runs: peak above the
    memory in use when it started. (ru_maxrss would be the process's lifetime high-water mark,
    which start-up alone can set higher than the work measured here.)"""

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = rss_mb()
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def added_mb(self) -> float:
        return self.peak - self.start


def child(path: str, count: int) -> dict:
    from django.conf import settings

    from studio.engine import images

    with open(path, "rb") as f:
        data = f.read()
    with Image.open(io.BytesIO(data)) as probe:
        side = probe.width
    images.process(photo_like(256, seed=2))  # warm up the codecs and the image threads

    started = time.perf_counter()
    with PeakMemory() as serial_memory:
        for _ in range(count):
            images.process(data)
    serial_s = time.perf_counter() - started

    barrier = threading.Barrier(BURST)

    def one():
        barrier.wait()
        images.process(data)

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    started = time.perf_counter()
    with PeakMemory() as burst_memory:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    burst_s = time.perf_counter() - started
    return {
        "side": side,
        "input_mb": len(data) / 1e6,
        "decoded_mb": side * side * 3 / 1e6,
        "serial_per_s": count / serial_s,
        "serial_peak_mb": serial_memory.added_mb,
        "burst": BURST,
        "burst_per_s": BURST / burst_s,
        "burst_peak_mb": burst_memory.added_mb,
        "image_concurrency": settings.STUDIO_IMAGE_CONCURRENCY,
        "max_megapixels": settings.STUDIO_MAX_IMAGE_PIXELS / 1e6,
    }


def report(result: dict) -> list[str]:
    lines = [f"Images: images.process() ({result['machine']['cpu']})"]
    for r in result["sizes"]:
        side = r["side"]
        lines += [
            harness.line(
                f"{side}×{side} PNG ({r['input_mb']:.1f} MB), one at a time",
                f"{r['serial_per_s']:.1f} thumbnails/s, peak +{r['serial_peak_mb']:.0f} MB",
            ),
            harness.line(
                f"{side}×{side}, {r['burst']} at once (poller burst)",
                f"{r['burst_per_s']:.1f}/s, peak +{r['burst_peak_mb']:.0f} MB",
                f"≤ {r['image_concurrency']} × one at a time",
                r["burst_peak_mb"] <= r["image_concurrency"] * max(r["serial_peak_mb"], 1) + 4,
            ),
        ]
    # Memory grows with a picture's pixels (which STUDIO_MAX_IMAGE_PIXELS caps) and with the
    # pictures worked on at once (STUDIO_IMAGE_CONCURRENCY), never with how many arrive.
    large = result["sizes"][-1]
    per_megapixel = large["serial_peak_mb"] / (large["side"] ** 2 / 1e6)
    bound = per_megapixel * large["max_megapixels"] * large["image_concurrency"]
    lines.append(
        harness.line(
            "bound at the pixel cap, per process",
            f"≈ {bound:.0f} MB ({large['max_megapixels']:.0f} MP × {per_megapixel:.1f} MB/MP "
            f"× {large['image_concurrency']})",
        )
    )
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.images")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import django

        django.setup()
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return {}

    tmp = harness.setup("images")
    result = {"machine": harness.machine(), "sizes": []}
    for side in SIZES:
        path = tmp / f"result-{side}.png"
        path.write_bytes(photo_like(side))
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.images", "--child", str(path), str(SIZES[side])],
            capture_output=True,
            text=True,
            check=True,
            cwd=harness.ROOT,
        )
        result["sizes"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    harness.record("images", result)
    print("\n".join(report(result)), flush=True)
    return result


if __name__ == "__main__":
    main()
