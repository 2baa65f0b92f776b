#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Edit a dm-quorum superblock copy in place, checksum kept right.

sbedit.py <leg device> <byte offset of the copy> <field>=<value>...

Fields (Documentation/dm-quorum.rst, "On-disk format"): version, compat,
incompat, events, slot, threshold, nr_legs, region_sectors, dev_sectors,
meta_sectors, bitmap_blocks, legN.state, legN.changed, legN.resync_hint.
Values are decimal or 0x hex.  "csum=bad" leaves the checksum wrong.
"""
import mmap
import os
import struct
import sys

FIELDS = {  # offset, struct format
    "version": (12, "<I"), "compat": (16, "<I"), "incompat": (20, "<I"),
    "events": (24, "<Q"), "slot": (64, "<I"), "threshold": (68, "<I"),
    "nr_legs": (72, "<I"), "region_sectors": (76, "<I"),
    "dev_sectors": (80, "<Q"), "meta_sectors": (88, "<Q"),
    "bitmap_blocks": (96, "<I"),
}
LEG = {"state": (16, "<I"), "changed": (24, "<Q"), "resync_hint": (32, "<Q")}


def crc32c(data, crc=0xFFFFFFFF):
    """CRC-32C (Castagnoli), reflected, no final xor: the kernel's crc32c()."""
    table = crc32c.table
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


crc32c.table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    crc32c.table.append(c)


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    dev, off = argv[1], int(argv[2], 0)
    # O_DIRECT: the target reads and writes the leg below any page cache
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    os.preadv(fd, [buf], off)
    block = bytearray(buf[:])
    bad_csum = False
    for arg in argv[3:]:
        name, value = arg.split("=", 1)
        if name == "csum" and value == "bad":
            bad_csum = True
            continue
        if name.startswith("leg"):
            n, field = name[3:].split(".", 1)
            o, fmt = LEG[field]
            o += 128 + 40 * int(n)
        else:
            o, fmt = FIELDS[name]
        struct.pack_into(fmt, block, o, int(value, 0))
    csum = crc32c(bytes(block[12:]))
    if bad_csum:
        csum ^= 1
    struct.pack_into("<I", block, 8, csum)
    buf[:] = bytes(block)
    os.pwritev(fd, [buf], off)
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv)
