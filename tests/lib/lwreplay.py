#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check and replay the log of a dm-log-writes device under a dm-quorum leg.

lwreplay.py check <log dev> <leg sectors> <dev sectors> <region sectors>
    Walk the log (format: drivers/md/dm-log-writes.c) and check the
    write-intent rules of dm-quorum's metadata on this leg:

    1. every data write's regions are set in the intent bitmap as it was
       durable at the last flush before the write was logged;
    2. no region is cleared in the bitmap in the same flush epoch as a
       data write to it (its data must be durable first).

    dm-log-writes logs plain writes at the next flush, so the epoch (the
    flushes between them) is what the log can tell, not the order within
    one.  Prints what was checked; exits 1 on a violation, or if the log
    holds no data write, no bitmap write setting a bit and none clearing
    one (a check that checked nothing).

lwreplay.py replay <log dev> <target dev> <mark> <flushes>
    Apply the log's writes to <target dev> up to the mark named <mark>
    ("-": from the start), then on up to (not including) the <flushes>+1-th
    flush entry after it, or to the end of the log if there are fewer;
    fsync.  Prints the entries applied.

lwreplay.py flushes <log dev>
    Print how many flush entries the log holds.
"""
import os
import struct
import sys

FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
MAGIC = 0x6a736677736872
SUPER = struct.Struct("<QQQI")
ENTRY = struct.Struct("<QQQQ")
BLOCK = 4096
BITS_PER_BLOCK = BLOCK * 8


def entries(path):
    """(index, sector, nr_sectors, flags, data) of every entry, in order."""
    with open(path, "rb") as f:
        magic, version, nr, ss = SUPER.unpack(f.read(SUPER.size))
        if magic != MAGIC or version != 1:
            sys.exit("lwreplay: %s: not a dm-log-writes log" % path)
        pos = ss
        for i in range(nr):
            f.seek(pos)
            sector, nr_sectors, flags, data_len = ENTRY.unpack(f.read(ENTRY.size))
            pos += ss
            data = b""
            if flags & MARK:
                # the mark's name follows the entry in its sector
                f.seek(pos - ss + ENTRY.size)
                data = f.read(min(data_len, ss - ENTRY.size))
            elif nr_sectors and not flags & DISCARD:
                f.seek(pos)
                data = f.read(nr_sectors * ss)
                pos += nr_sectors * ss
            # sector and nr_sectors are in the device's sector size
            yield i, sector * ss // 512, nr_sectors * ss // 512, flags, data


def geometry(leg_sectors, dev_sectors, region):
    """(first sector of the intent bitmap, its blocks, regions)."""
    regions = (dev_sectors + region - 1) // region
    blocks = (regions + BITS_PER_BLOCK - 1) // BITS_PER_BLOCK
    meta = (2 + 17 * blocks) * 8
    end = leg_sectors // 8 * 8
    return end - meta, blocks, regions


def bit(bitmap, r):
    return bitmap[r // 8] >> (r % 8) & 1


def check(log, leg_sectors, dev_sectors, region):
    start, blocks, regions = geometry(leg_sectors, dev_sectors, region)
    end = start + blocks * 8
    current = bytearray(blocks * BLOCK)   # as written
    durable = bytes(current)              # as of the last flush
    last_write = {}                        # region -> epoch of its last write
    epoch = writes = sets = clears = flushes = bad = 0
    for i, sector, n, flags, data in entries(log):
        if flags & FLUSH:
            durable = bytes(current)
            epoch += 1
            flushes += 1
        if flags & MARK or not n:
            continue
        if sector + n <= dev_sectors and not flags & DISCARD:
            writes += 1
            for r in range(sector // region, (sector + n - 1) // region + 1):
                if not bit(durable, r):
                    bad += 1
                    if bad <= 10:
                        print("lwreplay: entry %d: write to sectors %d+%d, "
                              "region %d not durably marked" % (i, sector, n, r))
                last_write[r] = epoch
        lo, hi = max(sector, start), min(sector + n, end)
        if lo < hi:
            for s in range(lo, hi):
                off = (s - start) * 512
                old = current[off:off + 512]
                new = data[(s - sector) * 512:(s - sector + 1) * 512]
                for b in range(512):
                    if old[b] == new[b]:
                        continue
                    for k in range(8):
                        was, now = old[b] >> k & 1, new[b] >> k & 1
                        r = (off + b) * 8 + k
                        if now and not was:
                            sets += 1
                        elif was and not now and r < regions:
                            clears += 1
                            if last_write.get(r, -1) == epoch:
                                bad += 1
                                if bad <= 10:
                                    print("lwreplay: entry %d: region %d cleared in the "
                                          "epoch of a write to it" % (i, r))
                current[off:off + 512] = new
            if flags & FUA:
                durable = bytes(current)
    print("lwreplay: %d data writes, %d flushes, %d marks set, %d cleared: "
          "%d violations" % (writes, flushes, sets, clears, bad))
    if not writes or not sets or not clears:
        print("lwreplay: the log does not exercise the rules")
        return 1
    return 1 if bad else 0


def replay(log, target, mark, flushes):
    fd = os.open(target, os.O_WRONLY)
    applied = seen = 0
    found = mark == "-"
    for _i, sector, n, flags, data in entries(log):
        if found and flags & FLUSH:
            if seen == flushes:
                break
            seen += 1
        if flags & MARK:
            found |= data.split(b"\0")[0] == mark.encode()
            continue
        if not n:
            continue
        if flags & DISCARD:
            data = bytes(n * 512)
        os.pwrite(fd, data, sector * 512)
        applied += 1
    os.fsync(fd)
    # the device is read below the page cache next: leave nothing there
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    if not found:
        print("lwreplay: no mark %s in the log" % mark)
        return 1
    print(applied)
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "check":
        return check(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    if len(argv) == 6 and argv[1] == "replay":
        return replay(argv[2], argv[3], argv[4], int(argv[5]))
    if len(argv) == 3 and argv[1] == "flushes":
        print(sum(1 for e in entries(argv[2]) if e[3] & FLUSH))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
