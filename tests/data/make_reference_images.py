"""Reference images for the decoder tests: writes variants of one picture in every format and
mode the decoders must handle, each next to Pillow's decode of it (convert("RGB"), raw bytes,
.rgb) which the C++ decoders are compared against. Usage: make_reference_images.py OUT_DIR"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
h, w = 45, 67  # odd sizes exercise partial MCUs and chroma rounding
y, x = np.mgrid[0:h, 0:w]
rng = np.random.default_rng(0)
rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * y) % 256], -1).astype(np.uint8)
rgb = np.clip(rgb.astype(int) + rng.integers(-8, 9, rgb.shape), 0, 255).astype(np.uint8)
base = Image.fromarray(rgb, "RGB")
alpha = Image.fromarray(((x + y) * 3 % 256).astype(np.uint8), "L")


def save(name, image, **kw):
    image.save(out / name, **kw)
    with Image.open(out / name) as decoded:
        (out / (name + ".rgb")).write_bytes(decoded.convert("RGB").tobytes())


save("rgb8.png", base)
rgba = base.copy()
rgba.putalpha(alpha)
save("rgba8.png", rgba)
save("gray8.png", base.convert("L"))
gray_alpha = base.convert("L")
gray_alpha.putalpha(alpha)
save("gray_alpha.png", gray_alpha)
save("palette.png", base.convert("P", palette=Image.ADAPTIVE, colors=37))
palette_t = base.convert("P", palette=Image.ADAPTIVE, colors=16)
save("palette_trns.png", palette_t, transparency=3)
save("bilevel.png", base.convert("1"))
# 16-bit RGB: Pillow cannot write it from an array, so write it with the raw encoder.
rgb16 = (rgb.astype(np.uint16) * 257 + rng.integers(0, 200, rgb.shape)).astype(">u2")
import struct, zlib


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


raw = b"".join(b"\x00" + rgb16[r].tobytes() for r in range(h))
png16 = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
         + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
(out / "rgb16.png").write_bytes(png16)
with Image.open(out / "rgb16.png") as decoded:
    (out / "rgb16.png.rgb").write_bytes(decoded.convert("RGB").tobytes())

save("baseline.jpg", base, quality=90)
save("baseline444.jpg", base, quality=95, subsampling=0)
save("progressive.jpg", base, quality=90, progressive=True)
save("gray.jpg", base.convert("L"), quality=90)
save("cmyk.jpg", base.convert("CMYK"), quality=95)
save("lossless.webp", base, lossless=True)
save("lossy.webp", base, quality=90)
save("alpha.webp", rgba, lossless=True)
print("reference images written to", out)
