#!/usr/bin/python3
"""Writes tests/data/extract/matrix/: odd-but-valid image files and the pixels PIL gives them.

For every file, PIL's Image.open(p).convert("RGB") and .convert("L") (torchvision's ImageFolder
loader) are stored next to it as <file>.rgb.npy (uint8 [H, W, 3]) and <file>.l.npy (uint8
[H, W]); tests/extract/test_image_matrix.cpp decodes every file with oodflow and compares every
pixel. Files PIL refuses (truncated ones) are listed as refused and must be refused by oodflow
too. manifest.tsv lists what the test expects of each file, README.md describes them.

Run with Debian's interpreter (Pillow 9.4.0, numpy 1.24): /usr/bin/python3
scripts/make_image_matrix.py. Deterministic: each file's pixels come from a generator seeded by
the file's name, so a second run rewrites the same bytes.
"""

import io
import pathlib
import re
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "extract" / "matrix"
H, W = 17, 23  # odd sizes: partial JPEG MCUs, BMP row padding, partial tiles

# Files where oodflow and PIL differ on purpose: name -> (max |difference| of convert("RGB"),
# of convert("L"), why).
KNOWN_DIFFERENCES = {
    "gif_grey_local_table.gif": (
        0,
        145,
        "convert(\"L\"): oodflow gives the grey of the global colours that PIL's "
        "convert(\"RGB\") shows, PIL the indices",
    ),
}
# Files PIL reads and oodflow refuses: name -> the words oodflow's message must contain. Empty
# while oodflow reads every file PIL reads.
OODFLOW_REFUSES = {}
# Files both refuse, where oodflow's message is not about truncation: name -> its words.
REFUSAL_MESSAGES = {
    "tiff_ycbcr_raw.tif": "TIFF layout",
    "tiff_lab.tif": "TIFF layout",
}

ENTRIES = []  # (name, how it was made, writer)


def entry(name, how):
    def register(writer):
        ENTRIES.append((name, how, writer))
        return writer

    return register


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def photo(rng, h=H, w=W):
    """Smooth gradients, a few flat blocks and noise: every level range, every edge case of
    chroma subsampling."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / (w - 1), y * 255 / (h - 1), (x + y) * 255 / (w + h - 2)], -1)
    img = img + rng.normal(0, 25, (h, w, 3))
    img[2:6, 3:9] = rng.integers(0, 256, 3)
    img[h - 5 : h - 1, w - 7 : w - 2] = [255, 255, 255]
    img[0, 0] = [0, 0, 0]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pil_bytes(image, fmt, **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


# --------------------------------------------------------------------------------- PNG by hand


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_bits(rows, bits):
    """Packs integer samples of `bits` bits, MSB first, each row padded to a byte."""
    out = []
    per = 8 // bits
    for row in rows:
        row = list(map(int, row)) + [0] * (-len(row) % per)
        out.append(
            bytes(
                sum(v << (8 - bits * (k + 1)) for k, v in enumerate(row[i : i + per]))
                for i in range(0, len(row), per)
            )
        )
    return out


def png_rows(samples, bit_depth):
    """Row bytes of a [h, w * channels] sample array."""
    if bit_depth == 16:
        return [r.astype(">u2").tobytes() for r in samples]
    if bit_depth == 8:
        return [r.astype(np.uint8).tobytes() for r in samples]
    return pack_bits(samples, bit_depth)


# Adam7 passes: first row, first column, row step, column step.
ADAM7 = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
         (1, 0, 2, 1)]


def png_file(samples, channels, bit_depth, color_type, before_idat=b"", interlaced=False):
    """A PNG of a [h, w, channels] sample array, unfiltered."""
    h, w = samples.shape[:2]
    raw = b""
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    for r0, c0, rs, cs in passes:
        sub = samples[r0::rs, c0::cs]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = png_rows(sub.reshape(sub.shape[0], -1), bit_depth)
        raw += b"".join(b"\0" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + before_idat
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + png_chunk(b"IEND", b"")
    )


def trns(*values):
    return png_chunk(b"tRNS", struct.pack(">" + "H" * len(values), *map(int, values)))


def plte(rng, n):
    return png_chunk(b"PLTE", rng.integers(0, 256, 3 * n, dtype=np.uint8).tobytes())


@entry("png_1bit.png", "PIL mode 1 (photo dithered), saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("1"), "PNG")


@entry("png_grey2.png", "2-bit grey, written by hand")
def _(rng):
    return png_file(rng.integers(0, 4, (H, W, 1)), 1, 2, 0)


@entry("png_grey4.png", "4-bit grey, written by hand")
def _(rng):
    return png_file(rng.integers(0, 16, (H, W, 1)), 1, 4, 0)


@entry("png_grey.png", "PIL mode L, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("L"), "PNG")


@entry("png_grey_trns.png", "8-bit grey with a tRNS grey level, written by hand")
def _(rng):
    g = rng.integers(0, 256, (H, W, 1))
    return png_file(g, 1, 8, 0, trns(g[0, 0, 0]))


@entry("png_grey_alpha.png", "PIL mode LA, saved by PIL")
def _(rng):
    la = Image.fromarray(photo(rng)).convert("LA")
    la.putalpha(Image.fromarray(rng.integers(0, 256, (H, W), dtype=np.uint8)))
    return pil_bytes(la, "PNG")


@entry("png_grey_alpha16.png", "16-bit grey + alpha, written by hand (PIL: mode RGBA)")
def _(rng):
    return png_file(rng.integers(0, 65536, (H, W, 2)), 2, 16, 4)


@entry("png_grey16.png", "PIL mode I;16 with levels 0..1000, saved by PIL (PIL reads mode I)")
def _(rng):
    g = rng.integers(0, 1001, (H, W)).astype(np.uint16)
    g[0, :8] = [0, 1, 127, 254, 255, 256, 257, 65535]
    return pil_bytes(Image.fromarray(g), "PNG")


@entry("png_grey16_trns.png", "16-bit grey 0..700 with a tRNS level, written by hand")
def _(rng):
    g = rng.integers(0, 701, (H, W, 1))
    return png_file(g, 1, 16, 0, trns(g[0, 0, 0]))


@entry("png_palette.png", "PIL mode P (photo quantized to 16 colours), saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).quantize(16), "PNG")


@entry("png_palette_trns.png", "PIL mode P with transparency index 3, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).quantize(16), "PNG", transparency=3)


@entry("png_palette_alpha.png", "8-bit palette of 16 with a tRNS of 10 alphas, written by hand")
def _(rng):
    alphas = png_chunk(b"tRNS", bytes(range(0, 250, 25)))
    return png_file(rng.integers(0, 16, (H, W, 1)), 1, 8, 3, plte(rng, 16) + alphas)


@entry("png_palette1.png", "1-bit palette, written by hand")
def _(rng):
    return png_file(rng.integers(0, 2, (H, W, 1)), 1, 1, 3, plte(rng, 2))


@entry("png_palette2.png", "2-bit palette, written by hand")
def _(rng):
    return png_file(rng.integers(0, 4, (H, W, 1)), 1, 2, 3, plte(rng, 4))


@entry("png_palette4.png", "4-bit palette, written by hand")
def _(rng):
    return png_file(rng.integers(0, 16, (H, W, 1)), 1, 4, 3, plte(rng, 16))


@entry("png_palette_short.png", "indices 0..9 with a PLTE of 4 colours (PIL: grey past it)")
def _(rng):
    return png_file(rng.integers(0, 10, (H, W, 1)), 1, 8, 3, plte(rng, 4))


@entry("png_rgb.png", "PIL mode RGB, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "PNG")


@entry("png_rgb_trns.png", "8-bit RGB with a tRNS colour, written by hand")
def _(rng):
    p = photo(rng)
    return png_file(p, 3, 8, 2, trns(*p[0, 0]))


@entry("png_rgb16.png", "16-bit RGB, written by hand")
def _(rng):
    return png_file(rng.integers(0, 65536, (H, W, 3)), 3, 16, 2)


@entry("png_rgba.png", "PIL mode RGBA, saved by PIL")
def _(rng):
    rgba = Image.fromarray(photo(rng))
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (H, W), dtype=np.uint8)))
    return pil_bytes(rgba, "PNG")


@entry("png_rgba16.png", "16-bit RGBA, written by hand")
def _(rng):
    return png_file(rng.integers(0, 65536, (H, W, 4)), 4, 16, 6)


@entry("png_gamma.png", "RGB with a gAMA chunk of 1.0 (PIL ignores gamma), written by hand")
def _(rng):
    return png_file(photo(rng), 3, 8, 2, png_chunk(b"gAMA", struct.pack(">I", 100000)))


@entry("png_interlaced.png", "Adam7-interlaced RGB, written by hand")
def _(rng):
    return png_file(photo(rng), 3, 8, 2, interlaced=True)


@entry("png_interlaced_grey16.png", "Adam7-interlaced 16-bit grey 0..600, written by hand")
def _(rng):
    return png_file(rng.integers(0, 601, (H, W, 1)), 1, 16, 0, interlaced=True)


@entry("png_interlaced_thin.png", "Adam7-interlaced 1-bit grey, 1 x 5 (empty passes)")
def _(rng):
    return png_file(rng.integers(0, 2, (5, 1, 1)), 1, 1, 0, interlaced=True)


def frames(rng, n=3):
    return [Image.fromarray(photo(rng)) for _ in range(n)]


@entry("png_apng.png", "APNG of 3 frames, saved by PIL (the first frame is the IDAT image)")
def _(rng):
    f = frames(rng)
    return pil_bytes(f[0], "PNG", save_all=True, append_images=f[1:], duration=100)


@entry("png_apng_default.png", "APNG whose IDAT image is not a frame (default_image=True)")
def _(rng):
    f = frames(rng)
    return pil_bytes(
        f[0], "PNG", save_all=True, append_images=f[1:], duration=100, default_image=True
    )


@entry("png_trailing_zeros.png", "png_rgb.png content + 4096 zero bytes after IEND")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "PNG") + bytes(4096)


@entry("png_trailing_junk.png", "RGB PNG + 200 random bytes after IEND")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "PNG")
    return data + rng.integers(0, 256, 200, dtype=np.uint8).tobytes()


@entry("png_no_iend.png", "RGB PNG without its IEND chunk (every row present; PIL reads it)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "PNG")[:-12]


@entry("png_cut.png", "RGB PNG cut in its IDAT chunk")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "PNG")
    return data[: len(data) * 2 // 3]


# ---------------------------------------------------------------------------------------- JPEG


@entry("jpeg_grey.jpg", "PIL mode L, quality 90")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("L"), "JPEG", quality=90)


@entry("jpeg_420.jpg", "RGB, 4:2:0 chroma, quality 90")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG", quality=90)


@entry("jpeg_422.jpg", "RGB, 4:2:2 chroma")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG", subsampling=1)


@entry("jpeg_444.jpg", "RGB, 4:4:4 chroma, quality 95")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG", quality=95, subsampling=0)


@entry("jpeg_progressive.jpg", "RGB, progressive")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG", progressive=True)


@entry("jpeg_exif_rotate6.jpg", "RGB with EXIF orientation 6 (PIL's loader does not rotate)")
def _(rng):
    exif = Image.Exif()
    exif[0x0112] = 6
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG", exif=exif)


@entry("jpeg_cmyk.jpg", "PIL mode CMYK, random inks, quality 95 (Adobe APP14, inverted)")
def _(rng):
    inks = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    return pil_bytes(Image.fromarray(inks, "CMYK"), "JPEG", quality=95)


@entry("jpeg_cmyk_photo.jpg", "photo converted to CMYK by PIL, progressive")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("CMYK"), "JPEG", progressive=True)


def without_adobe_marker(data):
    """Drops the APP14 segment: libjpeg then takes the 4 components as plain CMYK."""
    pos = 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if data[pos + 1] == 0xEE:
            return data[:pos] + data[pos + 2 + length :]
        pos += 2 + length
    raise ValueError("no APP14 segment")


@entry("jpeg_cmyk_no_adobe.jpg", "jpeg_cmyk.jpg-like file with its Adobe APP14 segment removed")
def _(rng):
    inks = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    return without_adobe_marker(pil_bytes(Image.fromarray(inks, "CMYK"), "JPEG", quality=95))


def with_adobe_transform(data, transform):
    """Sets the colour transform byte of the APP14 segment (2: YCCK)."""
    pos = data.index(b"\xff\xee")
    assert data[pos + 4 : pos + 9] == b"Adobe"
    return data[: pos + 15] + bytes([transform]) + data[pos + 16 :]


@entry("jpeg_ycck.jpg", "CMYK JPEG (PIL) with its APP14 transform set to 2: read as YCCK, "
       "the colour space of Photoshop's CMYK JPEGs")
def _(rng):
    inks = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    return with_adobe_transform(pil_bytes(Image.fromarray(inks, "CMYK"), "JPEG", quality=95), 2)


@entry("jpeg_mpo.jpg", "MPO of 2 frames (a camera's multi-picture JPEG), saved by PIL")
def _(rng):
    f = frames(rng, 2)
    return pil_bytes(f[0], "MPO", save_all=True, append_images=f[1:])


@entry("jpeg_trailing_zeros.jpg", "RGB JPEG + 4096 zero bytes after EOI")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG") + bytes(4096)


@entry("jpeg_trailing_junk.jpg", "RGB JPEG + junk after EOI holding SOS and EOI markers")
def _(rng):
    junk = rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG") + junk + b"\xff\xda\x00" + junk


@entry("jpeg_no_eoi.jpg", "RGB JPEG without its final EOI marker (PIL refuses)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "JPEG")[:-2]


@entry("jpeg_cut.jpg", "RGB JPEG cut in its scan data")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "JPEG")
    return data[: len(data) * 2 // 3]


@entry("jpeg_progressive_cut.jpg", "progressive RGB JPEG cut after its first scans")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "JPEG", progressive=True)
    return data[: len(data) * 2 // 3]


# ----------------------------------------------------------------------------------------- BMP


def bmp_file(bits, rows, palette=None, compression=0, header=40, masks=None, top_down=False,
             width=W, height=H):
    """A BMP of stored rows (bottom-up unless top_down); palette as (r, g, b) tuples."""
    stride = (width * bits + 31) // 32 * 4
    if compression in (0, 3):
        data = b"".join(r.ljust(stride, b"\0") for r in rows)
    else:
        data = b"".join(rows)
    entry_size = 3 if header == 12 else 4
    pal = b"" if palette is None else b"".join(
        bytes([b, g, r]) + b"\0" * (entry_size - 3) for r, g, b in palette
    )
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        colors = 0 if palette is None else len(palette)
        info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits,
                           compression, len(data), 2835, 2835, colors, 0)
        if header > 40:
            info += struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + bytes(header - 56)
    extra_masks = struct.pack("<III", *masks[:3]) if header == 40 and compression == 3 else b""
    offset = 14 + len(info) + len(extra_masks) + len(pal)
    head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
    return head + info + extra_masks + pal + data


def bottom_up(rows):
    return list(reversed(rows))


def random_palette(rng, n):
    return [tuple(map(int, rng.integers(0, 256, 3))) for _ in range(n)]


@entry("bmp_1bit.bmp", "PIL mode 1, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("1"), "BMP")


@entry("bmp_4bit.bmp", "4-bit palette of 16, written by hand")
def _(rng):
    idx = rng.integers(0, 16, (H, W))
    return bmp_file(4, bottom_up(pack_bits(idx, 4)), random_palette(rng, 16))


@entry("bmp_8bit.bmp", "PIL mode P, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).quantize(64), "BMP")


@entry("bmp_grey.bmp", "PIL mode L, saved by PIL (a grey palette: PIL reads mode L)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("L"), "BMP")


@entry("bmp_rgb24.bmp", "PIL mode RGB, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "BMP")


@entry("bmp_rgba32.bmp", "PIL mode RGBA, saved by PIL (32-bit, no bitfields: PIL reads RGB)")
def _(rng):
    rgba = Image.fromarray(photo(rng))
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (H, W), dtype=np.uint8)))
    return pil_bytes(rgba, "BMP")


@entry("bmp_16bit.bmp", "16-bit 5-5-5 without bitfields, written by hand")
def _(rng):
    px = rng.integers(0, 65536, (H, W)).astype("<u2")
    return bmp_file(16, bottom_up([r.tobytes() for r in px]))


@entry("bmp_16bit_565.bmp", "16-bit 5-6-5 bitfields, written by hand")
def _(rng):
    px = rng.integers(0, 65536, (H, W)).astype("<u2")
    return bmp_file(16, bottom_up([r.tobytes() for r in px]), compression=3,
                    masks=(0xF800, 0x7E0, 0x1F))


@entry("bmp_32bit_alpha.bmp", "32-bit BGRA bitfields in a 108-byte (V4) header, written by hand")
def _(rng):
    px = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    return bmp_file(32, bottom_up([r.tobytes() for r in px]), compression=3, header=108,
                    masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))


@entry("bmp_32bit_xbgr.bmp", "32-bit XBGR bitfields (R in the top byte), V5 header, by hand")
def _(rng):
    px = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    return bmp_file(32, bottom_up([r.tobytes() for r in px]), compression=3, header=124,
                    masks=(0xFF000000, 0xFF0000, 0xFF00, 0))


@entry("bmp_top_down.bmp", "24-bit with a negative height (rows stored top-down), by hand")
def _(rng):
    p = photo(rng)[:, :, ::-1]
    return bmp_file(24, [r.tobytes() for r in p], top_down=True)


@entry("bmp_os2.bmp", "OS/2 12-byte header, 8-bit palette of 3-byte entries, by hand")
def _(rng):
    idx = rng.integers(0, 256, (H, W))
    return bmp_file(8, bottom_up([bytes(map(int, r)) for r in idx]), random_palette(rng, 256),
                    header=12)


def rle_runs(values, rle4):
    """RLE8/RLE4 encoding of one row: runs, plus an absolute run for a stretch of noise."""
    out = b""
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i] and j - i < 255:
            j += 1
        v = values[i]
        out += bytes([j - i, (v << 4 | v) if rle4 else v])
        i = j
    return out + b"\0\0"


@entry("bmp_rle8.bmp", "RLE8: runs, odd absolute runs, a delta (PIL 9.4 misreads it: it takes the "
       "next 2 bytes as the offsets), end of bitmap, by hand")
def _(rng):
    rows = []
    for y in range(H):
        runs = np.repeat(rng.integers(0, 256, 6), 4)[:W]
        row = rle_runs(list(map(int, runs[:15])), False)[:-2]
        # An absolute run of 5 (odd: padded to a 16-bit boundary), then runs to the end.
        noise = rng.integers(0, 256, 5)
        row += bytes([0, 5]) + bytes(map(int, noise)) + b"\0"
        row += rle_runs(list(map(int, runs[20:])), False)
        rows.append(row)
    # A delta of 2 columns in the last stored row.
    rows[-1] = bytes([0, 2, 2, 0]) + rle_runs([7] * (W - 2), False)
    return bmp_file(8, rows + [b"\0\1"], random_palette(rng, 256), compression=1)


@entry("bmp_rle4.bmp", "RLE4: runs of two alternating nibbles and absolute runs, by hand")
def _(rng):
    rows = []
    for y in range(H):
        a, b = map(int, rng.integers(0, 16, 2))
        row = bytes([9, a << 4 | b])  # 9 pixels alternating a, b
        row += bytes([0, 6]) + bytes(map(int, rng.integers(0, 256, 3))) + b"\0"  # absolute, 6
        row += bytes([W - 15, (b << 4) | b]) + b"\0\0"
        rows.append(row)
    return bmp_file(4, rows + [b"\0\1"], random_palette(rng, 16), compression=2)


@entry("bmp_trailing.bmp", "24-bit BMP (PIL) + 100 random bytes after the pixels")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "BMP")
    return data + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()


@entry("bmp_cut.bmp", "24-bit BMP (PIL) cut in its pixels")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "BMP")
    return data[: len(data) * 2 // 3]


# ------------------------------------------------------------------------------- PBM, PGM, PPM


def pnm(magic, maxval, samples, binary_fmt=None, header_comment=b""):
    h, w = samples.shape[:2]
    head = magic + b"\n" + header_comment + b"%d %d\n" % (w, h)
    if maxval is not None:
        head += b"%d\n" % maxval
    if binary_fmt is None:
        body = " ".join(map(str, samples.ravel())).encode() + b"\n"
    else:
        body = samples.astype(binary_fmt).tobytes()
    return head + body


@entry("pbm_raw.pbm", "PIL mode 1, saved by PIL (P4)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("1"), "PPM")


@entry("pbm_plain.pbm", "P1 (ASCII) with a comment line, by hand")
def _(rng):
    bits = rng.integers(0, 2, (H, W))
    text = b"".join(b"".join(b"%d" % v for v in row) + b"\n" for row in bits)
    return b"P1\n# plain bitmap\n%d %d\n" % (W, H) + text[:40] + b"# mid\n" + text[40:]


@entry("pgm_raw.pgm", "PIL mode L, saved by PIL (P5, maxval 255)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("L"), "PPM")


@entry("pgm_maxval6.pgm", "P5 with maxval 6: Python's round() takes 127.5 and 212.5 to even")
def _(rng):
    return pnm(b"P5", 6, rng.integers(0, 7, (H, W)), "u1")


@entry("pgm_maxval100.pgm", "P5 with maxval 100, a few samples above it, by hand")
def _(rng):
    s = rng.integers(0, 101, (H, W))
    s[0, :3] = [101, 200, 255]
    return pnm(b"P5", 100, s, "u1")


@entry("pgm_maxval1000.pgm", "P5 with maxval 1000 (2-byte samples; PIL: mode I), by hand")
def _(rng):
    s = rng.integers(0, 1001, (H, W))
    s[0, :4] = [0, 3, 4, 1000]
    return pnm(b"P5", 1000, s, ">u2")


@entry("pgm_16bit.pgm", "PIL mode I with levels 0..700, saved by PIL (P5, maxval 65535)")
def _(rng):
    return pil_bytes(Image.fromarray(rng.integers(0, 701, (H, W)).astype(np.int32)), "PPM")


@entry("pgm_plain.pgm", "P2 (ASCII) with maxval 15 and comments, by hand")
def _(rng):
    return pnm(b"P2", 15, rng.integers(0, 16, (H, W)), header_comment=b"# grey\n")


@entry("pgm_plain16.pgm", "P2 (ASCII) with maxval 1000 (PIL: mode I), by hand")
def _(rng):
    return pnm(b"P2", 1000, rng.integers(0, 1001, (H, W)))


@entry("ppm_raw.ppm", "PIL mode RGB, saved by PIL (P6)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "PPM")


@entry("ppm_maxval1000.ppm", "P6 with maxval 1000 (2-byte samples), by hand")
def _(rng):
    return pnm(b"P6", 1000, rng.integers(0, 1001, (H, W, 3)), ">u2")


@entry("ppm_16bit.ppm", "P6 with maxval 65535, by hand")
def _(rng):
    return pnm(b"P6", 65535, rng.integers(0, 65536, (H, W, 3)), ">u2")


@entry("ppm_plain.ppm", "P3 (ASCII), maxval 255, by hand")
def _(rng):
    return pnm(b"P3", 255, photo(rng))


@entry("ppm_comments.ppm", "P6 with comments between the header fields, by hand")
def _(rng):
    body = photo(rng).tobytes()
    return b"P6 # made by hand\n%d # width\n%d\n# maxval next\n255\n" % (W, H) + body


@entry("ppm_trailing.ppm", "P6 (PIL) + 100 random bytes after the pixels")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "PPM")
    return data + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()


@entry("ppm_cut.ppm", "P6 (PIL) cut in its pixels")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "PPM")
    return data[: len(data) * 2 // 3]


# ---------------------------------------------------------------------------------------- TIFF


def tiff_file(w, h, bits, samples, photometric, blocks, extra=(), order="<", planar=1,
              colormap=None, sample_format=None, fill_order=None, tile=None, compression=1,
              ycbcr_subsampling=None):
    """A TIFF of uncompressed (or pre-compressed) strips or tiles, one IFD."""
    tags = [(256, 4, [w]), (257, 4, [h]), (258, 3, [bits] * samples), (259, 3, [compression]),
            (262, 3, [photometric]), (277, 3, [samples]), (284, 3, [planar])]
    if fill_order:
        tags.append((266, 3, [fill_order]))
    if tile is None:
        tags += [(273, 4, [0] * len(blocks)), (278, 4, [h]), (279, 4, [len(b) for b in blocks])]
    else:
        tags += [(322, 4, [tile[0]]), (323, 4, [tile[1]]), (324, 4, [0] * len(blocks)),
                 (325, 4, [len(b) for b in blocks])]
    if colormap is not None:
        tags.append((320, 3, list(map(int, colormap))))
    if extra:
        tags.append((338, 3, list(extra)))
    if sample_format:
        tags.append((339, 3, [sample_format] * samples))
    if ycbcr_subsampling:
        tags.append((530, 3, list(ycbcr_subsampling)))
    tags.sort()
    ifd_end = 8 + 2 + 12 * len(tags) + 4
    blob = bytearray()
    value_at = {}
    for tag, typ, values in tags:
        size = (2 if typ == 3 else 4) * len(values)
        if size > 4:
            value_at[tag] = ifd_end + len(blob)
            blob += bytes(size + size % 2)
    offsets = []
    for b in blocks:
        offsets.append(ifd_end + len(blob))
        blob += b + bytes(len(b) % 2)
    out = bytearray((b"II*\0" if order == "<" else b"MM\0*") + struct.pack(order + "I", 8))
    out += struct.pack(order + "H", len(tags))
    for tag, typ, values in tags:
        if tag in (273, 324):
            values = offsets
        packed = struct.pack(order + ("H" if typ == 3 else "I") * len(values), *values)
        if len(packed) > 4:
            at = value_at[tag] - ifd_end
            blob[at : at + len(packed)] = packed
            out += struct.pack(order + "HHII", tag, typ, len(values), value_at[tag])
        else:
            out += struct.pack(order + "HHI", tag, typ, len(values)) + packed.ljust(4, b"\0")
    return bytes(out + struct.pack(order + "I", 0) + blob)


def strip(array, fmt="u1"):
    return [np.ascontiguousarray(array).astype(fmt).tobytes()]


def alpha_of(rng):
    a = rng.integers(0, 256, (H, W), dtype=np.uint8)
    a[0, :3] = [0, 1, 255]
    return a


@entry("tiff_1bit.tif", "PIL mode 1, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("1"), "TIFF")


@entry("tiff_grey.tif", "PIL mode L, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("L"), "TIFF")


@entry("tiff_grey_alpha.tif", "PIL mode LA, saved by PIL")
def _(rng):
    la = Image.fromarray(photo(rng)).convert("LA")
    la.putalpha(Image.fromarray(alpha_of(rng)))
    return pil_bytes(la, "TIFF")


@entry("tiff_palette.tif", "PIL mode P, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).quantize(32), "TIFF")


@entry("tiff_rgb.tif", "PIL mode RGB, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "TIFF")


@entry("tiff_rgba.tif", "PIL mode RGBA (unassociated alpha), saved by PIL")
def _(rng):
    rgba = Image.fromarray(photo(rng))
    rgba.putalpha(Image.fromarray(alpha_of(rng)))
    return pil_bytes(rgba, "TIFF")


@entry("tiff_cmyk.tif", "PIL mode CMYK, random inks, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(rng.integers(0, 256, (H, W, 4), dtype=np.uint8), "CMYK"),
                     "TIFF")


@entry("tiff_grey16.tif", "PIL mode I;16 with levels 0..1000, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(rng.integers(0, 1001, (H, W)).astype(np.uint16)), "TIFF")


@entry("tiff_int32.tif", "PIL mode I with levels -100..1000, saved by PIL")
def _(rng):
    return pil_bytes(Image.fromarray(rng.integers(-100, 1001, (H, W)).astype(np.int32)), "TIFF")


@entry("tiff_float.tif", "PIL mode F with values -20..280 and a NaN, saved by PIL")
def _(rng):
    f = (rng.random((H, W)) * 300 - 20).astype(np.float32)
    f[0, :6] = [np.nan, np.inf, -np.inf, 0.999, 254.999, 255.0]
    return pil_bytes(Image.fromarray(f), "TIFF")


for _codec in ("tiff_lzw", "tiff_deflate", "packbits", "jpeg"):

    @entry(f"tiff_rgb_{_codec.replace('tiff_', '')}.tif", f"RGB, compression={_codec!r} (PIL)")
    def _(rng, codec=_codec):
        return pil_bytes(Image.fromarray(photo(rng)), "TIFF", compression=codec)


@entry("tiff_lzw_predictor.tif", "RGB, LZW with horizontal predictor (PIL, tiffinfo 317=2)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "TIFF", compression="tiff_lzw",
                     tiffinfo={317: 2})


@entry("tiff_multipage.tif", "3 RGB pages, saved by PIL (PIL opens the first)")
def _(rng):
    f = frames(rng)
    return pil_bytes(f[0], "TIFF", save_all=True, append_images=f[1:])


@entry("tiff_rgba_premultiplied.tif", "RGB + associated alpha (PIL: RGBa, divided out), by hand")
def _(rng):
    a = alpha_of(rng)
    rgb = (photo(rng).astype(int) * a[..., None] // 255).astype(np.uint8)
    rgb[1, 0] = [200, 10, 3]  # colour above its alpha: clipped by PIL
    a[1, 0] = 100
    return tiff_file(W, H, 8, 4, 2, strip(np.dstack([rgb, a])), extra=[1])


@entry("tiff_rgbx.tif", "RGB + an unspecified extra sample (PIL: RGBX), by hand")
def _(rng):
    return tiff_file(W, H, 8, 4, 2, strip(np.dstack([photo(rng), alpha_of(rng)])), extra=[0])


@entry("tiff_rgba_no_extrasamples.tif", "4 samples of RGB without ExtraSamples (PIL: RGBA)")
def _(rng):
    return tiff_file(W, H, 8, 4, 2, strip(np.dstack([photo(rng), alpha_of(rng)])))


@entry("tiff_rgba_extra.tif", "RGB + unassociated alpha + an unspecified sample, by hand")
def _(rng):
    s = np.dstack([photo(rng), alpha_of(rng), alpha_of(rng)])
    return tiff_file(W, H, 8, 5, 2, strip(s), extra=[2, 0])


@entry("tiff_planar.tif", "RGB in separate planes (PlanarConfiguration 2), by hand")
def _(rng):
    p = photo(rng)
    return tiff_file(W, H, 8, 3, 2, [p[..., c].tobytes() for c in range(3)], planar=2)


@entry("tiff_tiled.tif", "RGB in 16 x 16 tiles (partial tiles at the edges), by hand")
def _(rng):
    p = photo(rng)
    tiles = []
    for ty in range(0, H, 16):
        for tx in range(0, W, 16):
            t = np.zeros((16, 16, 3), np.uint8)
            block = p[ty : ty + 16, tx : tx + 16]
            t[: block.shape[0], : block.shape[1]] = block
            tiles.append(t.tobytes())
    return tiff_file(W, H, 8, 3, 2, tiles, tile=(16, 16))


@entry("tiff_miniswhite.tif", "8-bit grey, PhotometricInterpretation 0 (MinIsWhite), by hand")
def _(rng):
    return tiff_file(W, H, 8, 1, 0, strip(photo(rng)[..., 0]))


@entry("tiff_miniswhite1.tif", "1-bit MinIsWhite, by hand")
def _(rng):
    return tiff_file(W, H, 1, 1, 0, [b"".join(pack_bits(rng.integers(0, 2, (H, W)), 1))])


for _bits in (2, 4):

    @entry(f"tiff_grey{_bits}.tif", f"{_bits}-bit grey (MinIsBlack), by hand")
    def _(rng, bits=_bits):
        levels = rng.integers(0, 1 << bits, (H, W))
        return tiff_file(W, H, bits, 1, 1, [b"".join(pack_bits(levels, bits))])

    @entry(f"tiff_miniswhite{_bits}.tif", f"{_bits}-bit MinIsWhite, by hand")
    def _(rng, bits=_bits):
        levels = rng.integers(0, 1 << bits, (H, W))
        return tiff_file(W, H, bits, 1, 0, [b"".join(pack_bits(levels, bits))])


@entry("tiff_fill_order2.tif", "1-bit MinIsBlack with FillOrder 2 (LSB first), by hand")
def _(rng):
    packed = b"".join(pack_bits(rng.integers(0, 2, (H, W)), 1))
    reversed_bits = bytes(int(f"{b:08b}"[::-1], 2) for b in packed)
    return tiff_file(W, H, 1, 1, 1, [reversed_bits], fill_order=2)


@entry("tiff_palette4.tif", "4-bit palette with a 16-bit colormap, by hand")
def _(rng):
    cmap = rng.integers(0, 65536, 3 * 16)
    return tiff_file(W, H, 4, 1, 3, [b"".join(pack_bits(rng.integers(0, 16, (H, W)), 4))],
                     colormap=cmap)


@entry("tiff_palette_alpha.tif", "8-bit palette + unassociated alpha (PIL: PA), by hand")
def _(rng):
    cmap = rng.integers(0, 65536, 3 * 256)
    s = np.dstack([rng.integers(0, 256, (H, W)).astype(np.uint8), alpha_of(rng)])
    return tiff_file(W, H, 8, 2, 3, strip(s), colormap=cmap, extra=[2])


@entry("tiff_rgb16.tif", "16-bit RGB, little-endian, by hand")
def _(rng):
    return tiff_file(W, H, 16, 3, 2, strip(rng.integers(0, 65536, (H, W, 3)), "<u2"))


@entry("tiff_rgb16_be.tif", "16-bit RGB, big-endian (MM), by hand")
def _(rng):
    return tiff_file(W, H, 16, 3, 2, strip(rng.integers(0, 65536, (H, W, 3)), ">u2"), order=">")


@entry("tiff_rgba16_premultiplied.tif", "16-bit RGB + associated alpha, by hand")
def _(rng):
    a = rng.integers(0, 65536, (H, W))
    rgb = rng.integers(0, 65536, (H, W, 3)) * a[..., None] // 65535
    return tiff_file(W, H, 16, 4, 2, strip(np.dstack([rgb, a]), "<u2"), extra=[1])


@entry("tiff_cmyk16.tif", "16-bit CMYK, little-endian, by hand")
def _(rng):
    return tiff_file(W, H, 16, 4, 5, strip(rng.integers(0, 65536, (H, W, 4)), "<u2"))


@entry("tiff_cmyk_extra.tif", "8-bit CMYK + an unspecified extra sample, by hand")
def _(rng):
    return tiff_file(W, H, 8, 5, 5, strip(rng.integers(0, 256, (H, W, 5))), extra=[0])


@entry("tiff_grey16_be.tif", "16-bit grey 0..700, big-endian (PIL: I;16B), by hand")
def _(rng):
    return tiff_file(W, H, 16, 1, 1, strip(rng.integers(0, 701, (H, W)), ">u2"), order=">")


@entry("tiff_grey16_miniswhite.tif", "16-bit MinIsWhite 0..700 (PIL does not invert), by hand")
def _(rng):
    return tiff_file(W, H, 16, 1, 0, strip(rng.integers(0, 701, (H, W)), "<u2"))


@entry("tiff_int16.tif", "signed 16-bit grey -300..400 (SampleFormat 2), by hand")
def _(rng):
    return tiff_file(W, H, 16, 1, 1, strip(rng.integers(-300, 401, (H, W)), "<i2"),
                     sample_format=2)


@entry("tiff_uint32.tif", "unsigned 32-bit grey, some above 2^31 (PIL reads them signed)")
def _(rng):
    v = rng.integers(0, 400, (H, W)).astype(np.uint64)
    v[0, :3] = [2**31 + 5, 2**32 - 1, 70000]
    return tiff_file(W, H, 32, 1, 1, strip(v, "<u4"))


@entry("tiff_float_be.tif", "32-bit float grey, big-endian, by hand")
def _(rng):
    return tiff_file(W, H, 32, 1, 1, strip(rng.random((H, W)) * 300 - 20, ">f4"), order=">",
                     sample_format=3)


@entry("tiff_ycbcr_jpeg.tif", "YCbCr 4:2:0 JPEG-compressed strip (a JPEG written by PIL)")
def _(rng):
    jpeg = pil_bytes(Image.fromarray(photo(rng)), "JPEG", quality=90)
    return tiff_file(W, H, 8, 3, 6, [jpeg], compression=7, ycbcr_subsampling=(2, 2))


@entry("tiff_grey12.tif", "12-bit grey 0..600, little-endian (PIL: I;16), by hand")
def _(rng):
    v = rng.integers(0, 601, (H, W))
    rows = []
    for row in v:
        row = list(map(int, row)) + [0] * (len(row) % 2)
        packed = bytearray()
        for a, b in zip(row[0::2], row[1::2]):
            packed += bytes([a >> 4, (a & 15) << 4 | b >> 8, b & 255])
        rows.append(bytes(packed[: (W * 12 + 7) // 8]))
    return tiff_file(W, H, 12, 1, 1, [b"".join(rows)])


@entry("tiff_ycbcr_lzw.tif", "PIL mode YCbCr, LZW (libtiff's RGBA interface converts it)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("YCbCr"), "TIFF", compression="tiff_lzw")


@entry("tiff_ycbcr420_deflate.tif", "YCbCr 4:2:0, Deflate, written by hand")
def _(rng):
    ycc = np.asarray(Image.fromarray(photo(rng)).convert("YCbCr")).astype(int)
    hp, wp = (H + 1) // 2 * 2, (W + 1) // 2 * 2
    padded = np.pad(ycc, ((0, hp - H), (0, wp - W), (0, 0)), mode="edge")
    units = bytearray()
    for by in range(0, hp, 2):
        for bx in range(0, wp, 2):
            block = padded[by : by + 2, bx : bx + 2]
            units += bytes(block[..., 0].ravel().tolist())
            units += bytes([int(block[..., 1].mean()), int(block[..., 2].mean())])
    return tiff_file(W, H, 8, 3, 6, [zlib.compress(bytes(units))], compression=8,
                     ycbcr_subsampling=(2, 2))


@entry("tiff_ycbcr_raw.tif", "PIL mode YCbCr, uncompressed (PIL's raw decoder cannot read it)")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)).convert("YCbCr"), "TIFF")


@entry("tiff_lab.tif", "CIELab, 8 bits, written by hand (PIL opens it as mode LAB, which it "
       "cannot convert)")
def _(rng):
    return tiff_file(W, H, 8, 3, 8, strip(rng.integers(0, 256, (H, W, 3))))


@entry("tiff_trailing.tif", "RGB TIFF (PIL) + 100 random bytes at the end")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "TIFF")
    return data + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()


@entry("tiff_cut.tif", "uncompressed RGB TIFF cut in its strip")
def _(rng):
    p = photo(rng)
    data = tiff_file(W, H, 8, 3, 2, strip(p))
    return data[: len(data) * 2 // 3]


# ---------------------------------------------------------------------------------------- WebP


@entry("webp_lossy.webp", "RGB, lossy quality 80")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "WEBP", quality=80)


@entry("webp_lossless.webp", "RGB, lossless")
def _(rng):
    return pil_bytes(Image.fromarray(photo(rng)), "WEBP", lossless=True)


def rgba_image(rng):
    rgba = Image.fromarray(photo(rng))
    rgba.putalpha(Image.fromarray(alpha_of(rng)))
    return rgba


@entry("webp_lossy_alpha.webp", "RGBA, lossy quality 80 (alpha compressed)")
def _(rng):
    return pil_bytes(rgba_image(rng), "WEBP", quality=80)


@entry("webp_lossless_alpha.webp", "RGBA, lossless")
def _(rng):
    return pil_bytes(rgba_image(rng), "WEBP", lossless=True)


@entry("webp_animated.webp", "3 lossy RGB frames (PIL shows the first)")
def _(rng):
    f = frames(rng)
    return pil_bytes(f[0], "WEBP", save_all=True, append_images=f[1:], duration=100, quality=80)


@entry("webp_animated_alpha.webp", "3 lossless RGBA frames")
def _(rng):
    f = [rgba_image(rng) for _ in range(3)]
    return pil_bytes(f[0], "WEBP", save_all=True, append_images=f[1:], duration=100,
                     lossless=True)


@entry("webp_trailing.webp", "lossy RGB WebP + 100 random bytes after the RIFF chunk")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "WEBP", quality=80)
    return data + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()


@entry("webp_cut.webp", "lossless RGB WebP cut in its bitstream")
def _(rng):
    data = pil_bytes(Image.fromarray(photo(rng)), "WEBP", lossless=True)
    return data[: len(data) * 2 // 3]


# ----------------------------------------------------------------------------------------- GIF


def lzw_codes(indices, code_size):
    """GIF's variable-width LZW of a sequence of indices: clear code first, a new clear code when
    the table is full, the end code last; codes packed LSB first."""
    clear, end = 1 << code_size, (1 << code_size) + 1
    out = bytearray()
    acc = nbits = 0
    width = code_size + 1

    def put(code):
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 255)
            acc >>= 8
            nbits -= 8

    table, next_code = {}, end + 1
    put(clear)
    prefix = None  # the code of the string matched so far
    for v in map(int, indices):
        if prefix is None:
            prefix = v
        elif (prefix, v) in table:
            prefix = table[prefix, v]
        else:
            put(prefix)
            if next_code < 4096:
                table[prefix, v] = next_code
                next_code += 1
                if next_code - 1 == 1 << width and width < 12:
                    width += 1
            else:
                put(clear)
                table, next_code, width = {}, end + 1, code_size + 1
            prefix = v
    if prefix is not None:
        put(prefix)
    put(end)
    if nbits:
        out.append(acc & 255)
    return bytes(out)


def sub_blocks(data):
    """Data sub-blocks of up to 255 bytes, then the empty block."""
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(bytes([len(c)]) + c for c in chunks) + b"\0"


def first_frame_end(data):
    """Where the first frame's image data ends (after its empty sub-block)."""
    pos = 13 + (3 << (data[10] & 7) + 1 if data[10] & 0x80 else 0)
    while data[pos] != ord(","):
        assert data[pos] == ord("!")
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    flags = data[pos + 9]
    pos += 10 + (3 << (flags & 7) + 1 if flags & 0x80 else 0) + 1
    while data[pos]:
        pos += 1 + data[pos]
    return pos + 1


def colour_table(colours):
    """(size bits of the flags, table bytes padded with black to a power of two entries)."""
    n = len(colours) // 3
    bits = max(1, (n - 1).bit_length())
    return bits - 1, bytes(colours) + bytes(3 * (1 << bits) - len(colours))


def gif_file(width, height, frames, global_table=None, background=0, before=b""):
    """A GIF89a written by hand. frames: dicts of indices ([h, w] array), x, y, local (table of
    RGB bytes), transparency, interlace, dispose. `before` goes before the first frame."""
    flags, table = 0, b""
    if global_table is not None:
        bits, table = colour_table(global_table)
        flags = 0x80 | bits << 4 | bits
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, flags, background, 0) + table + before
    for f in frames:
        idx = f["indices"]
        h, w = idx.shape
        trns = f.get("transparency")
        if trns is not None or f.get("dispose"):
            gce_flags = f.get("dispose", 0) << 2 | (trns is not None)
            out += b"!\xf9\x04" + struct.pack("<BHB", gce_flags, 10, trns or 0) + b"\0"
        flags, table = 0, b""
        if f.get("local") is not None:
            bits, table = colour_table(f["local"])
            flags = 0x80 | bits
        rows = np.arange(h)
        if f.get("interlace"):
            flags |= 0x40
            rows = np.concatenate([rows[0::8], rows[4::8], rows[2::4], rows[1::2]])
        out += b"," + struct.pack("<HHHHB", f.get("x", 0), f.get("y", 0), w, h, flags) + table
        code_size = max(2, int(idx.max()).bit_length())
        out += bytes([code_size]) + sub_blocks(lzw_codes(idx[rows].ravel(), code_size))
    return out + b";"


def random_table(rng, n):
    return rng.integers(0, 256, 3 * n, dtype=np.uint8).tobytes()


GREY_RAMP = bytes(i // 3 for i in range(3 * 256))


def pil_gif(rng, **options):
    return pil_bytes(Image.fromarray(photo(rng)).quantize(32), "GIF", **options)


@entry("gif_still.gif", "PIL mode P (photo quantized to 32 colours), saved by PIL, not interlaced")
def _(rng):
    return pil_gif(rng, interlace=False)


@entry("gif_interlaced.gif", "the same saved by PIL interlaced (its default from 16 rows)")
def _(rng):
    return pil_gif(rng)


@entry("gif_interlaced_tall.gif", "interlaced, 9 x 41, written by hand (all 4 passes, rows 0..40)")
def _(rng):
    return gif_file(9, 41, [dict(indices=rng.integers(0, 16, (41, 9)), interlace=True)],
                    random_table(rng, 16))


@entry("gif_animated.gif", "3 frames saved by PIL (save_all, loop); the first frame is read")
def _(rng):
    f = [im.quantize(32) for im in frames(rng)]
    return pil_bytes(f[0], "GIF", save_all=True, append_images=f[1:], duration=100, loop=0)


@entry("gif_transparency.gif", "PIL mode P with transparency index 3, saved by PIL (the "
       "transparent pixels keep their palette colour)")
def _(rng):
    return pil_gif(rng, transparency=3)


@entry("gif_offset.gif", "11 x 7 first frame at (5, 4) of a 23 x 17 screen, background index 5, "
       "by hand (outside: index 0)")
def _(rng):
    frame = dict(indices=rng.integers(1, 16, (7, 11)), x=5, y=4)
    return gif_file(W, H, [frame], random_table(rng, 16), background=5)


@entry("gif_offset_transparency.gif", "gif_offset.gif with transparency index 9, by hand "
       "(outside: index 9), then a second frame")
def _(rng):
    first = dict(indices=rng.integers(0, 16, (7, 11)), x=5, y=4, transparency=9, dispose=2)
    second = dict(indices=rng.integers(0, 16, (H, W)))
    return gif_file(W, H, [first, second], random_table(rng, 16), background=5)


@entry("gif_past_screen.gif", "a 15 x 12 frame at (12, 9) of a 23 x 17 screen, by hand (PIL "
       "grows the canvas to 27 x 21)")
def _(rng):
    return gif_file(W, H, [dict(indices=rng.integers(0, 8, (12, 15)), x=12, y=9)],
                    random_table(rng, 8))


@entry("gif_local_table.gif", "a global table of 8 colours and a local one of 32, by hand")
def _(rng):
    frame = dict(indices=rng.integers(0, 32, (H, W)), local=random_table(rng, 32))
    return gif_file(W, H, [frame], random_table(rng, 8))


@entry("gif_local_table_only.gif", "a local table of 4 colours and no global one, interlaced, "
       "by hand")
def _(rng):
    frame = dict(indices=rng.integers(0, 4, (H, W)), local=random_table(rng, 4), interlace=True)
    return gif_file(W, H, [frame])


@entry("gif_short_table.gif", "indices 0..15 with a table of 4 colours (PIL: grey past it)")
def _(rng):
    return gif_file(W, H, [dict(indices=rng.integers(0, 16, (H, W)))], random_table(rng, 4))


@entry("gif_grey.gif", "a global table that is the grey ramp 0..255, by hand (PIL: mode L)")
def _(rng):
    return gif_file(W, H, [dict(indices=photo(rng)[:, :, 0])], GREY_RAMP)


@entry("gif_grey_transparency.gif", "grey ramp of 16, frame at (3, 2) with transparency index "
       "12, by hand (PIL: mode L, outside 12)")
def _(rng):
    frame = dict(indices=rng.integers(0, 16, (12, 17)), x=3, y=2, transparency=12)
    return gif_file(W, H, [frame], GREY_RAMP[: 3 * 16])


@entry("gif_grey_local_table.gif", "a local grey ramp of 16 over a global table of 16 colours, "
       "by hand (PIL: mode L; convert(\"RGB\") shows the global colours, convert(\"L\") the "
       "indices)")
def _(rng):
    frame = dict(indices=rng.integers(0, 16, (H, W)), local=GREY_RAMP[: 3 * 16])
    return gif_file(W, H, [frame], random_table(rng, 16))


@entry("gif_no_table.gif", "no colour table at all, by hand (PIL: mode L, the indices)")
def _(rng):
    return gif_file(W, H, [dict(indices=photo(rng)[:, :, 1])])


@entry("gif_extensions.gif", "a comment, a NETSCAPE loop, two graphic control extensions (the "
       "first with transparency 2) and a stray byte before the frame, by hand")
def _(rng):
    before = (
        b"!\xfe\x05hello\x03abc\0"
        + b"!\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"
        + b"!\xf9\x04\x01\x0a\x00\x02\0"
        + b"!\xf9\x04\x00\x0a\x00\x05\0"
        + b"\x07"
    )
    frame = dict(indices=rng.integers(0, 16, (7, 11)), x=2, y=3)
    return gif_file(W, H, [frame], random_table(rng, 16), before=before)


@entry("gif_trailing.gif", "gif_still.gif-like file + 300 random bytes after the trailer")
def _(rng):
    return pil_gif(rng, interlace=False) + rng.integers(0, 256, 300, dtype=np.uint8).tobytes()


@entry("gif_no_trailer.gif", "PIL GIF without its block terminator and trailer (every pixel "
       "present; PIL reads it)")
def _(rng):
    return pil_gif(rng)[:-2]


@entry("gif_animated_cut.gif", "gif_animated.gif-like file cut in its second frame (PIL reads "
       "the first)")
def _(rng):
    f = [im.quantize(32) for im in frames(rng)]
    data = pil_bytes(f[0], "GIF", save_all=True, append_images=f[1:], duration=100, loop=0)
    return data[: first_frame_end(data) + 40]


@entry("gif_cut.gif", "PIL GIF cut in its image data, 100 bytes before its end")
def _(rng):
    data = pil_gif(rng)
    return data[: first_frame_end(data) - 100]


@entry("gif_cut_table.gif", "PIL GIF cut in its global colour table")
def _(rng):
    return pil_gif(rng)[:40]


# ---------------------------------------------------------------------------------------------


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.uint8))
    return buf.getvalue()


def pil_pixels(data):
    """(mode, RGB pixels, L pixels), or (None, message, None) when PIL refuses the file."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            mode = im.mode
            return mode, np.asarray(im.convert("RGB")), np.asarray(im.convert("L"))
    except Exception as e:  # PIL's reasons vary: OSError, SyntaxError, ValueError
        # Without the address of the BytesIO, which changes from run to run.
        message = re.sub(r" <_io.BytesIO object at 0x[0-9a-f]+>", "", str(e))
        return None, f"{type(e).__name__}: {message}", None


def main():
    # convert("RGB") of a palette image with transparency warns; the alpha is meant to go.
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    manifest = ["# file\tPIL mode\texpected of oodflow\tmax |diff| RGB\tmax |diff| L"]
    rows = []
    for name, how, writer in ENTRIES:
        data = writer(rng_for(name))
        (OUT / name).write_bytes(data)
        mode, rgb, grey = pil_pixels(data)
        if name in OODFLOW_REFUSES:
            expect = "oodflow-refuses:" + OODFLOW_REFUSES[name]
            status = "refused by oodflow; PIL reads it" + ("" if mode else f" ({rgb})")
            mode = mode or Image.open(io.BytesIO(data)).mode
        elif mode is None:
            expect = "refused:" + REFUSAL_MESSAGES.get(name, "truncated")
            status, mode = f"refused, as by PIL ({rgb})", "-"
        else:
            (OUT / (name + ".rgb.npy")).write_bytes(npy_bytes(rgb))
            (OUT / (name + ".l.npy")).write_bytes(npy_bytes(grey))
            diff = KNOWN_DIFFERENCES.get(name)
            expect = "pixels"
            status = "exact" if diff is None else f"differs: {diff[2]}"
        d_rgb, d_l = KNOWN_DIFFERENCES.get(name, (0, 0, ""))[:2]
        manifest.append(f"{name}\t{mode}\t{expect}\t{d_rgb}\t{d_l}")
        rows.append((name, mode, how, status))
    (OUT / "manifest.tsv").write_text("\n".join(manifest) + "\n")
    write_readme(rows)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(ENTRIES)} files, {total} bytes in {OUT}", file=sys.stderr)


def write_readme(rows):
    lines = [
        "# Image decoding matrix",
        "",
        f"Generated by `/usr/bin/python3 scripts/make_image_matrix.py` (Pillow {PIL.__version__},",
        f"numpy {np.__version__}); do not edit by hand. A second run rewrites the same bytes.",
        "",
        "Odd-but-valid image files in every format torchvision's `ImageFolder` lists, and a few",
        "cut ones. Next to each file PIL reads: `<file>.rgb.npy` (uint8 [H, W, 3]) and",
        "`<file>.l.npy` (uint8 [H, W]), the pixels of PIL's `Image.open(f).convert(\"RGB\")` and",
        "`.convert(\"L\")`. `tests/extract/test_image_matrix.cpp` decodes every file with",
        "`decode_image_file` and `preprocess` (3 and 1 channels, no resize) and compares every",
        "pixel; files PIL refuses must be refused with an ImageError naming the file.",
        "`manifest.tsv` is what the test reads. Most images are 23 x 17 pixels.",
        "",
        "| file | PIL mode | made as | status |",
        "|---|---|---|---|",
    ]
    for name, mode, how, status in rows:
        lines.append(f"| `{name}` | {mode} | {how} | {status} |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
