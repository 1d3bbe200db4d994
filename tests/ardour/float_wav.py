"""Mono 32-bit float WAV files (what Ardour bounces, what the runner converts the fixture to),
read and patched with the standard library only."""

import struct
import sys
from array import array


def _data_chunk(path, data):
    """The byte offset and length of the samples, after checking the format."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a RIFF/WAVE file")
    pos, fmt, chunk = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            tag, channels = struct.unpack("<HH", body[:4])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, bits)
        elif cid == b"data":
            chunk = (pos + 8, size // 4 * 4)
        pos += 8 + size + (size & 1)
    if fmt != (3, 1, 32) or chunk is None:
        sys.exit(f"{path}: want mono 32-bit float WAV, found format/channels/bits {fmt}")
    return chunk


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    start, size = _data_chunk(path, data)
    samples = array("f")
    samples.frombytes(data[start : start + size])
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def write_samples(path, samples):
    """Overwrites the samples of an existing file of the same length in place."""
    with open(path, "rb") as f:
        data = f.read()
    start, size = _data_chunk(path, data)
    if size != 4 * len(samples):
        sys.exit(f"{path}: holds {size // 4} samples, not {len(samples)}")
    out = array("f", samples)
    if sys.byteorder != "little":
        out.byteswap()
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(out.tobytes())
