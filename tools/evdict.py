"""evpack's blob format in Python (src/store/evpack.c is the reference), for
tools/bulkload, tools/gen_evdict.py and bench/run.

Two forms, told apart by the top bit of byte 3:
- schema 2 (no dictionary): record length and summary length (4 bytes
  each, little-endian; the record's top bit is always 0), then one zlib
  stream of record + summary;
- with a preset dictionary: bytes 0-2 the record length (24 bits), byte 3
  0x80 | the dictionary's version, bytes 4-6 the summary length, bytes 7-10
  the adler32 of record + summary, then a raw deflate stream (no zlib
  header or trailer) made with the dictionary src/store/evdict_vN.gen.c.
"""
import os
import re
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CURRENT = 1           # the version evpack_pack writes (evpack.c: PACK_DICT)
LEVEL, WBITS, MEMLEVEL, STRATEGY = 6, 15, 5, zlib.Z_FIXED   # as evpack.c
_dicts = {}


def dictionary(version):
    d = _dicts.get(version)
    if d is None:
        path = os.path.join(ROOT, "src", "store", f"evdict_v{version}.gen.c")
        with open(path) as f:
            text = f.read()
        body = text[text.index("{", text.index(f"evdict_v{version}[")):]
        body = body[:body.index("}")]
        d = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body))
        want = re.search(r"evdict_v%d_len = (\d+);" % version, text)
        if not want or int(want.group(1)) != len(d):
            raise ValueError(f"{path}: length does not match")
        _dicts[version] = d
    return d


def pack(record, summary=b"", version=CURRENT):
    """record, summary: bytes. The blob evpack_pack makes."""
    both = record + summary
    if version == 0 or len(record) >= 1 << 24 or len(summary) >= 1 << 24:
        co = zlib.compressobj(1, zlib.DEFLATED, 12, 5, zlib.Z_FIXED)
        return struct.pack("<II", len(record), len(summary)) + co.compress(both) + co.flush()
    co = zlib.compressobj(LEVEL, zlib.DEFLATED, -WBITS, MEMLEVEL, STRATEGY, zdict=dictionary(version))
    head = struct.pack("<I", len(record) | 0x80000000 | (version << 24))
    head += struct.pack("<I", len(summary))[:3] + struct.pack("<I", zlib.adler32(both))
    return head + co.compress(both) + co.flush()


def record_len(blob):
    """The record's length (bytes of JSON) from a blob's header."""
    n = struct.unpack("<I", blob[:4])[0]
    return n & 0xffffff if n & 0x80000000 else n


def unpack(blob):
    """(record, summary) bytes of a blob (summary b"" when none)."""
    n = struct.unpack("<I", blob[:4])[0]
    if not n & 0x80000000:
        m = struct.unpack("<I", blob[4:8])[0]
        both = zlib.decompress(blob[8:])
    else:
        version, n = (n >> 24) & 0x7f, n & 0xffffff
        m = struct.unpack("<I", blob[4:7] + b"\0")[0]
        do = zlib.decompressobj(-WBITS, zdict=dictionary(version))
        both = do.decompress(blob[11:]) + do.flush()
        if not do.eof or zlib.adler32(both) != struct.unpack("<I", blob[7:11])[0]:
            raise ValueError("corrupt blob")
    if len(both) != n + m:
        raise ValueError("corrupt blob")
    return both[:n], both[n:]
