#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Stamped writes that survive a crash, and their check afterwards.

stamp.py write <dev> <blocks> <ack log> <crash after s> [threads=4] [kib/s=1024]
    Write 4 KiB blocks to <dev> with O_DIRECT, from <threads> threads,
    sequentially from block 0 (wrapping), at most <kib/s>.  Every block
    holds its number, a sequence number and a checksum.  Each write that
    returns is logged in memory; after <crash after s> the log is written
    to <ack log> and fsynced while the writers go on, and the machine is
    reset with sysrq b: writes are in flight when it dies.

stamp.py verify <dev> <ack log> <region bytes> <recovered regions>
    Every block the log says was acknowledged must hold that write or a
    later one, whole (no torn or foreign block); exits 1 otherwise.  Also
    checks that <recovered regions> (what the device recovered at its
    load) is no more than the regions written in the last 10.5 s before
    the crash plus those in flight, and at least 1.
"""
import mmap
import os
import struct
import sys
import threading
import time
import zlib

BS = 4096
MAGIC = b"DMQSTAMP"
HDR = struct.Struct("<8sQQdI")  # magic, block, seq, time, crc of the rest
# A region is cleared once idle for a whole 5 s clearing period, so at
# most two periods after its last write (dm-quorum-intent.c).
MARK_WINDOW = 10.5


def block_data(block, seq, stamp):
    """The 4 KiB written as write number <seq> of <block>."""
    body = (struct.pack("<QQ", block, seq) * (BS // 16))[: BS - HDR.size]
    crc = zlib.crc32(body)
    return HDR.pack(MAGIC, block, seq, stamp, crc) + body


def parse(buf):
    """(block, seq) of a stamped block, None if it is not one, whole."""
    magic, block, seq, _stamp, crc = HDR.unpack_from(buf)
    if magic != MAGIC:
        return None
    body = bytes(buf[HDR.size:])
    if zlib.crc32(body) != crc or body != block_data(block, seq, 0)[HDR.size:]:
        return None
    return block, seq


def write(dev, blocks, log, crash_after, threads=4, rate_kib=1024):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    lock = threading.Lock()
    acks = []  # (block, seq, time) of every write that returned
    state = {"next": 0, "seq": 0, "limit": float("inf")}
    interval = threads * BS / (rate_kib * 1024.0)

    def worker():
        buf = mmap.mmap(-1, BS)
        while True:
            with lock:
                # past what the log says may be in flight: wait for the
                # reset (the writes started before are in flight)
                held = state["next"] >= state["limit"]
                if not held:
                    block = state["next"] % blocks
                    state["next"] += 1
                    state["seq"] += 1
                    seq = state["seq"]
            if held:
                time.sleep(0.01)
                continue
            t0 = time.time()
            buf.seek(0)
            buf.write(block_data(block, seq, t0))
            os.pwrite(fd, buf, block * BS)
            with lock:
                acks.append((block, seq, time.time()))
            left = interval - (time.time() - t0)
            if left > 0:
                time.sleep(left)

    start = time.time()
    for _ in range(threads):
        threading.Thread(target=worker, daemon=True).start()
    time.sleep(crash_after)
    with lock:
        done = list(acks)
        in_flight = state["next"]
    with open(log + ".tmp", "w") as f:
        f.write("start %f crash %f next %d\n" % (start, time.time(), in_flight))
        for a in done:
            f.write("%d %d %f\n" % a)
        f.flush()
        os.fsync(f.fileno())
    os.rename(log + ".tmp", log)
    print("stamp: %d writes acknowledged in %.1f s, crashing" %
          (len(done), time.time() - start), flush=True)
    # how far the writers may get before the reset: 64 blocks further
    # (a quarter of a second at the default rate, longer than writing
    # this down takes, so writes are still being started at the reset)
    with lock:
        state["limit"] = state["next"] + 64
        limit = state["limit"]
    with open(log + ".next", "w") as f:
        f.write("%d %d\n" % (limit, blocks))
        f.flush()
        os.fsync(f.fileno())
    with open("/proc/sysrq-trigger", "w") as f:
        f.write("b")
    time.sleep(60)
    sys.exit("stamp: still alive after sysrq b")


def verify(dev, log, region_bytes, recovered):
    with open(log) as f:
        head = f.readline().split()
        crash = float(head[3])
        acked = {}
        recent = set()
        for line in f:
            block, seq, t = line.split()
            block, seq, t = int(block), int(seq), float(t)
            acked[block] = max(acked.get(block, 0), seq)
            if t >= crash - MARK_WINDOW:
                recent.add(block * BS // region_bytes)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    bad = 0
    for block, seq in sorted(acked.items()):
        os.preadv(fd, [buf], block * BS)
        got = parse(buf)
        if got is None or got[0] != block or got[1] < seq:
            bad += 1
            if bad <= 10:
                print("stamp: block %d: acknowledged write %d, found %s" %
                      (block, seq, got), flush=True)
    # writes sent and not acknowledged: from the last logged ones (a few
    # may have returned out of order) up to where the writers could get
    with open(log + ".next") as f:
        next_block, blocks = (int(v) for v in f.read().split())
    top = max(acked.values()) if acked else 0
    for n in range(max(0, top - 16), next_block):
        recent.add((n % blocks) * BS // region_bytes)
    bound = len(recent)
    print("stamp: %d blocks checked, %d bad; %d regions recovered, %d written "
          "in the last %.1f s or in flight; %d regions written in all" %
          (len(acked), bad, recovered, len(recent), MARK_WINDOW,
           len({b * BS // region_bytes for b in acked})), flush=True)
    ok = bad == 0
    if recovered > bound:
        print("stamp: more regions recovered than written lately", flush=True)
        ok = False
    if recovered < 1:
        print("stamp: nothing recovered: the crash left no write in flight?",
              flush=True)
        ok = False
    sys.exit(0 if ok else 1)


def main(argv):
    if len(argv) >= 6 and argv[1] == "write":
        write(argv[2], int(argv[3]), argv[4], float(argv[5]),
              *(int(a) for a in argv[6:8]))
    elif len(argv) == 6 and argv[1] == "verify":
        verify(argv[2], argv[3], int(argv[4]), int(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
