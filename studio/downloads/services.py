"""Downloads: one image with its metadata, or many as a ZIP streamed while it is read.

The ZIP is produced by zipstream-ng one member at a time: each image is read, given its
metadata and hashed only when the response reaches it, and the manifest (JSON and CSV) comes
last, written from the hashes gathered on the way. Memory stays at about one image, whatever
the number of images (benchmarks/downloads.py measures it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator

from zipstream import ZIP_STORED, ZipStream

from studio.downloads.metadata import ImageMetadata, with_metadata
from studio.downloads.models import DownloadPreference
from studio.engine.images import EXTENSIONS
from studio.models import Image
from studio.web.streaming import StreamingResponse

MANIFEST_FIELDS = ("file", "prompt", "vendor", "model", "parameters", "created", "sha256")
# What a share link's viewers get: only what the shared page shows them.
SHARED_MANIFEST_FIELDS = ("file", "prompt", "created", "sha256")


def embeds_metadata(user) -> bool:
    preference = DownloadPreference.objects.filter(user_id=user.pk).first()
    return preference is None or preference.embed_metadata


def set_embed_metadata(user, value: bool) -> None:
    DownloadPreference.objects.update_or_create(user=user, defaults={"embed_metadata": value})


def file_name(image: Image) -> str:
    return f"studio-{image.generation_id}-{image.index + 1}.{EXTENSIONS.get(image.format, 'png')}"


def image_bytes(image: Image, metadata: bool) -> bytes:
    with image.file.open("rb") as f:
        data = f.read()
    return with_metadata(data, image.format, ImageMetadata.of(image)) if metadata else data


def zip_chunks(
    images: Iterable[Image], *, metadata: bool, fields: tuple[str, ...] = MANIFEST_FIELDS
) -> Iterator[bytes]:
    """The ZIP of `images` (each with its generation loaded) and manifest.json/manifest.csv."""
    rows: list[dict] = []

    def member(image: Image) -> Iterator[bytes]:
        data = image_bytes(image, metadata)
        meta = ImageMetadata.of(image).text_fields()
        row = {**meta, "file": file_name(image), "sha256": hashlib.sha256(data).hexdigest()}
        rows.append({name: row[name] for name in fields})
        yield data

    def manifest_json() -> Iterator[bytes]:
        yield json.dumps({"images": rows}, ensure_ascii=False, indent=2).encode()

    def manifest_csv() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        yield out.getvalue().encode()

    # Stored, not deflated: PNG, JPEG and WebP are compressed already.
    stream = ZipStream(compress_type=ZIP_STORED, sized=False)
    for image in images:
        stream.add(member(image), file_name(image))
    stream.add(manifest_json(), "manifest.json")
    stream.add(manifest_csv(), "manifest.csv")
    yield from stream


def zip_response(
    images: Iterable[Image], name: str, *, metadata: bool, fields=MANIFEST_FIELDS
) -> StreamingResponse:
    response = StreamingResponse(
        zip_chunks(images, metadata=metadata, fields=fields), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
