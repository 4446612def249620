"""Turning untrusted bytes into an image the studio keeps, and its thumbnail.

Only PNG, JPEG and WebP decoders are ever used (others carry their own CVEs); the pixel limit
refuses decompression bombs from the header, before any pixel is decoded; multi-frame files are
refused; every image is re-encoded in its own format, which drops EXIF, XMP and text metadata.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps

FORMATS = ("PNG", "JPEG", "WEBP")
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
THUMBNAIL_SIZE = (512, 512)
PNG_COMPRESS_LEVEL = 3


class ImageRejected(Exception):
    """The bytes are not an image the studio accepts; the message is safe to show a user."""


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes
    format: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def open_checked(data: bytes) -> Image.Image:
    max_pixels = settings.STUDIO_MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit: make that an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
                probe.verify()
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if getattr(image, "n_frames", 1) > 1:
                raise ImageRejected("animated or multi-frame images are not accepted")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"the image has more than {max_pixels // 1_000_000} million pixels"
        ) from None
    except ImageRejected:
        raise
    except Exception:
        # UnidentifiedImageError, truncated data, broken chunks: all say the same to a user.
        raise ImageRejected("the result is not a valid PNG, JPEG or WebP image") from None
    return image


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        # "keep" reuses the original quantization tables: no generation loss. The ICC profile
        # is colour, not personal metadata, so it stays.
        quality = "keep" if image.format == "JPEG" else 95
        image.save(out, "JPEG", quality=quality, icc_profile=image.info.get("icc_profile"))
    elif fmt == "WEBP":
        lossless = bool(image.info.get("lossless"))
        image.save(out, "WEBP", lossless=lossless, quality=100 if lossless else 92)
    else:
        # zlib level 3, not Pillow's default 6: four times faster on generated pictures for
        # files about 5 % larger (benchmarks/README.md, "Images").
        image.save(
            out, "PNG", compress_level=PNG_COMPRESS_LEVEL, icc_profile=image.info.get("icc_profile")
        )
    return out.getvalue()


def thumbnail(image: Image.Image) -> bytes:
    source = image
    if source.mode not in ("RGB", "RGBA"):
        source = source.convert("RGBA" if "transparency" in source.info else "RGB")
    # Resize straight from the source (Image.thumbnail() would need a full-size copy first),
    # with thumbnail()'s own filter and reducing_gap. Bicubic and WebP's method 2 instead of
    # Lanczos and method 4: 58 → 46 ms per 1024² result, files 2 % larger
    # (benchmarks/README.md); the poller does this for every image of every job.
    scale = min(1.0, THUMBNAIL_SIZE[0] / source.width, THUMBNAIL_SIZE[1] / source.height)
    size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    thumb = source.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80, method=2)
    return out.getvalue()


_workers: ThreadPoolExecutor | None = None
_workers_lock = threading.Lock()


def image_workers() -> ThreadPoolExecutor:
    """The few threads of this process that decode and re-encode pictures.

    A decoded picture is large (3–4 bytes a pixel, plus encoder buffers beside it). When many
    jobs finish together, the poller's threads all call process() at once: handing the work to
    STUDIO_IMAGE_CONCURRENCY threads keeps a burst to a few pictures' worth of memory instead
    of one per poll thread, and keeps the allocations in those threads' malloc arenas rather
    than in one arena per poll thread, which the C allocator would keep after the burst. The
    work is CPU-bound: more threads than cores would not be faster.
    """
    global _workers
    with _workers_lock:
        if _workers is None:
            _workers = ThreadPoolExecutor(
                settings.STUDIO_IMAGE_CONCURRENCY, thread_name_prefix="image"
            )
        return _workers


def process(data: bytes) -> ProcessedImage:
    return image_workers().submit(_process, data).result()


def _process(data: bytes) -> ProcessedImage:
    image = open_checked(data)
    fmt = image.format
    if image.getexif().get(0x0112, 1) != 1:
        # The EXIF orientation tag is about to be stripped: apply it to the pixels first.
        image = ImageOps.exif_transpose(image)
    content = encode(image, fmt)
    small = thumbnail(image)
    width, height = image.width, image.height
    image.close()
    return ProcessedImage(
        content=content,
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
        thumbnail=small,
    )
