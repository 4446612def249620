"""Prompt, vendor, model, parameters and creation time written into an image's bytes.

Added at download time only: stored files stay as the engine re-encoded them (no metadata at
all). The chunks are spliced into the file without decoding it, so a download costs one read of
the file and never re-encodes (which would change the pixels of a JPEG or lossy WebP):
PNG gets iTXt chunks, JPEG an APP1 XMP segment, WebP an "XMP " chunk in an extended (VP8X) file.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from PIL import Image as PILImage

SOFTWARE = "Image Studio"
XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"
# A JPEG segment holds at most 65,533 bytes; a longer prompt is cut to fit.
JPEG_SEGMENT_MAX = 65533


@dataclass(frozen=True)
class ImageMetadata:
    prompt: str
    vendor: str
    model: str
    parameters: dict
    created: str  # ISO 8601

    @classmethod
    def of(cls, image) -> ImageMetadata:
        generation = image.generation
        return cls(
            prompt=generation.prompt,
            vendor=generation.vendor,
            model=generation.model,
            parameters=generation.params or {},
            created=image.created_at.isoformat(),
        )

    def text_fields(self) -> dict[str, str]:
        return {
            "prompt": self.prompt,
            "vendor": self.vendor,
            "model": self.model,
            "parameters": json.dumps(self.parameters, sort_keys=True, ensure_ascii=False),
            "created": self.created,
            "Software": SOFTWARE,
        }


def with_metadata(data: bytes, fmt: str, meta: ImageMetadata) -> bytes:
    """`data` (a stored PNG, JPEG or WebP) with `meta` written in; other bytes unchanged."""
    if fmt == "PNG" and data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data, meta)
    if fmt == "JPEG" and data.startswith(b"\xff\xd8"):
        return _jpeg(data, meta)
    if fmt == "WEBP" and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data, meta)
    return data


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(data: bytes, meta: ImageMetadata) -> bytes:
    # iTXt: keyword, no compression, no language tag, UTF-8 text. Placed right after IHDR
    # (always the first chunk, 25 bytes) so readers find it before any image data.
    chunks = b"".join(
        _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode())
        for key, value in meta.text_fields().items()
    )
    return data[:33] + chunks + data[33:]


def xmp_packet(meta: ImageMetadata, prompt_limit: int | None = None) -> bytes:
    prompt = meta.prompt if prompt_limit is None else meta.prompt[:prompt_limit]
    fields = meta.text_fields()
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:studio="https://image-studio.invalid/ns/1.0/">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(prompt)}</rdf:li>'
        "</rdf:Alt></dc:description>"
        f"<xmp:CreateDate>{escape(meta.created)}</xmp:CreateDate>"
        f"<xmp:CreatorTool>{SOFTWARE}</xmp:CreatorTool>"
        f"<studio:prompt>{escape(prompt)}</studio:prompt>"
        f"<studio:vendor>{escape(meta.vendor)}</studio:vendor>"
        f"<studio:model>{escape(meta.model)}</studio:model>"
        f"<studio:parameters>{escape(fields['parameters'])}</studio:parameters>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _jpeg(data: bytes, meta: ImageMetadata) -> bytes:
    packet, limit = xmp_packet(meta), len(meta.prompt)
    while len(XMP_NAMESPACE) + len(packet) > JPEG_SEGMENT_MAX:
        limit //= 2
        packet = xmp_packet(meta, limit)
    body = XMP_NAMESPACE + packet
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    at = 2
    if data[2:4] == b"\xff\xe0":  # JFIF wants its APP0 first
        at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + segment + data[at:]


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def _webp(data: bytes, meta: ImageMetadata) -> bytes:
    chunks = data[12:]
    xmp = _riff_chunk(b"XMP ", xmp_packet(meta))
    if chunks[:4] == b"VP8X":
        flags = chunks[8] | 0x04
        chunks = chunks[:8] + bytes([flags]) + chunks[9:]
    else:
        # A simple (VP8/VP8L) file: an extended header naming the canvas must come first.
        with PILImage.open(io.BytesIO(data)) as image:
            width, height, alpha = image.width, image.height, "A" in image.mode
        flags = 0x04 | (0x10 if alpha else 0)
        size = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
        chunks = _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + size) + chunks
    body = b"WEBP" + chunks + xmp
    return b"RIFF" + struct.pack("<I", len(body)) + body
