#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Differential test: dm-quorum against QEMU's own quorum driver.

qemu-diff.py qemu --out FILE [--count N] [--seed S]   (host: QEMU's half)
qemu-diff.py dm [--expect FILE] [--count N] [--seed S] [-v]  (test VM)

Generates scenarios (shape, threshold, read pattern, rewrite_corrupted,
blkverify, which legs hold which version of the data, which legs fail
reads, the request's range), runs each through QEMU's quorum block driver
on files (qemu-system-x86_64 -machine none, QMP, qemu-io) and through
dm-quorum on brd legs holding the same bytes, and requires the same
outcome:

  - the same data, or both fail with EIO;
  - the same legs reported: a QUORUM_REPORT_BAD with an error is an
    io_errors count on that leg, one without an error a mismatches count;
  - a QUORUM_FAILURE event exactly when dm-quorum counts a quorum failure;
  - the same leg contents afterwards (so the same legs were rewritten),
    and dm-quorum's rewrites counter on exactly the legs QEMU rewrote.

Deliberate differences, checked as such rather than skipped:
  - blkverify: on a mismatch QEMU prints its message and exits the
    process; dm-quorum logs the same message, fails the read with EIO and
    counts a quorum failure.
  - rewrite_corrupted with read_pattern fifo: QEMU accepts the option and
    ignores it; dm-quorum refuses the table.
The QEMU half needs no test kernel, and QEMU starts in 30 ms on the host
but in over a second under TCG, so tests/run-suite.sh runs it on the host
(`qemu`, writing QEMU's outcomes to FILE) and the case in the VM runs the
dm-quorum half against FILE (`dm --expect FILE`); the scenarios are
regenerated from the seed. Without --expect, `dm` runs QEMU itself. The
dm half batches scenarios (one dmsetup call creates a batch) because
every dmsetup call costs half a second under TCG.
`dm` runs as root in the test VM (dm-quorum, dm-delay and brd loadable).
Exit status 0 when every scenario agrees, 1 otherwise.
"""

import argparse
import hashlib
import errno
import json
import mmap
import os
import random
import re
import subprocess
import sys

LEG_BYTES = 64 << 10
SECTORS = LEG_BYTES // 512
MAX_LEGS = 5
BLK = 4096
QEMU = "qemu-system-x86_64"


class Scenario:
    """One read through a quorum of legs with given contents and faults."""

    def __init__(self, rng, idx):
        self.idx = idx
        self.blkverify = rng.random() < 0.12
        if self.blkverify:
            self.n, self.threshold = 2, 2
            self.pattern, self.rewrite = "quorum", False
        else:
            self.n = rng.randint(1, MAX_LEGS)
            self.threshold = rng.randint(1, self.n)
            self.pattern = "fifo" if rng.random() < 0.2 else "quorum"
            self.rewrite = rng.random() < (0.25 if self.pattern == "fifo" else 0.5)
        nblk = rng.randint(1, 8)
        self.length = nblk * BLK
        self.offset = rng.randrange(0, LEG_BYTES - self.length + 1, BLK)
        # versions: 0 is the base data, k > 0 differs from it in a few bytes
        nver = rng.choice([1, 2, 2, 3, 3]) if self.n > 1 else 1
        self.version = [rng.randrange(nver) for _ in range(self.n)]
        # a leg that fails reads: rarely more than one
        self.failing = [rng.random() < 0.15 for _ in range(self.n)]
        base = bytearray(rng.randbytes(LEG_BYTES))
        self.data = []
        variants = {0: bytes(base)}
        for v in range(1, nver):
            b = bytearray(base)
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.9:  # inside the request
                    pos = self.offset + rng.randrange(self.length)
                else:  # outside: the legs still agree on the request
                    pos = rng.randrange(LEG_BYTES)
                b[pos] ^= rng.randint(1, 255)
            variants[v] = bytes(b)
        self.data = [variants[v] for v in self.version]

    def describe(self):
        opts = [self.pattern]
        if self.rewrite:
            opts.append("rewrite")
        if self.blkverify:
            opts.append("blkverify")
        legs = " ".join(
            f"v{v}{'!' if f else ''}" for v, f in zip(self.version, self.failing)
        )
        return (
            f"#{self.idx}: {self.threshold}-of-{self.n} {'+'.join(opts)} "
            f"read {self.offset}+{self.length} legs [{legs}] (!: read error)"
        )


class Outcome:
    """What one implementation did with a scenario; data and leg contents
    as SHA-256 hex digests so QEMU's half can be stored as JSON."""

    FIELDS = ("refused", "data", "io_errors", "mismatches", "failure",
              "contents", "rewritten", "message")

    def __init__(self):
        self.refused = False  # the configuration was rejected
        self.data = None  # digest of the bytes read, or None on EIO
        self.io_errors = []  # legs reported with an error
        self.mismatches = []  # legs reported outvoted
        self.failure = False  # quorum failure reported
        self.contents = []  # digests of the leg contents afterwards
        self.rewritten = []  # legs rewritten
        self.message = None  # blkverify mismatch message

    def to_json(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_json(cls, obj):
        out = cls()
        for k in cls.FIELDS:
            setattr(out, k, obj[k])
        return out

    def summary(self):
        if self.refused:
            return "refused"
        data = "EIO" if self.data is None else self.data[:8]
        return (
            f"data {data}, io_errors {self.io_errors}, "
            f"mismatches {self.mismatches}, failure {self.failure}, "
            f"rewritten {self.rewritten}"
        )


def digest(b):
    return hashlib.sha256(b).hexdigest()


def aligned_buffer(size):
    return mmap.mmap(-1, size)


def pread_direct(path, offset, length):
    """Read with O_DIRECT; None on EIO."""
    buf = aligned_buffer(length)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        got = os.preadv(fd, [buf], offset)
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        return None
    finally:
        os.close(fd)
    return bytes(buf[:got])


def pwrite_direct(path, data, offset):
    buf = aligned_buffer(len(data))
    buf[:] = data
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        os.pwritev(fd, [buf], offset)
    finally:
        os.close(fd)


def run(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


# ---------------------------------------------------------------- QEMU ---


def qemu_child(s, i, path):
    image = {"driver": "file", "filename": path}
    if s.failing[i]:
        # raw emits read_aio on its file: every read after it fails
        image = {
            "driver": "blkdebug",
            "inject-error": [{"event": "read_aio", "errno": errno.EIO}],
            "image": image,
        }
    return {"driver": "raw", "node-name": f"c{i}", "file": image}


def run_qemu(s, workdir):
    """One QEMU process per scenario: QUORUM_FAILURE is rate-limited per
    process (one a second), a fresh process reports the first at once."""
    out = Outcome()
    paths = []
    for i in range(s.n):
        p = os.path.join(workdir, f"q{i}")
        with open(p, "wb") as f:
            f.write(s.data[i])
        paths.append(p)
    node = {
        "driver": "quorum",
        "node-name": "q",
        "vote-threshold": s.threshold,
        "read-pattern": s.pattern,
        "rewrite-corrupted": s.rewrite,
        "blkverify": s.blkverify,
        "children": [qemu_child(s, i, p) for i, p in enumerate(paths)],
    }
    hmp = f'qemu-io q "read -v {s.offset} {s.length}"'
    cmds = [
        {"execute": "qmp_capabilities"},
        {"execute": "blockdev-add", "arguments": node},
        {"execute": "human-monitor-command", "arguments": {"command-line": hmp}},
        {"execute": "quit"},
    ]
    stdin = "".join(json.dumps(c) + "\n" for c in cmds)
    # stdout to a file: QEMU makes its stdio non-blocking, and qemu-io's
    # hex dump would be cut short when a pipe fills up
    log = os.path.join(workdir, "qemu.out")
    with open(log, "w+") as f:
        p = subprocess.run(
            [QEMU, "-machine", "none", "-nodefaults", "-display", "none",
             "-qmp", "stdio"],
            input=stdin.encode(), stdout=f, stderr=subprocess.PIPE,
            timeout=120, check=False,
        )
        f.seek(0)
        replies, text = parse_qmp(f.read(), out)
    if len(replies) >= 2 and "error" in replies[1]:
        out.refused = True
        return out
    m = BLKVERIFY_RE.search(p.stderr.decode(errors="replace"))
    if m:  # blkverify: QEMU exits here
        out.message = m.group(0)
        out.failure = True
    elif "read failed: Input/output error" not in text:
        out.data = digest(parse_hexdump(text, s.length))
    for i, pth in enumerate(paths):
        with open(pth, "rb") as f:
            after = f.read()
        out.contents.append(digest(after))
        if after != s.data[i]:
            out.rewritten.append(i)
    return out


BLKVERIFY_RE = re.compile(r"quorum: offset=\d+ bytes=\d+ contents mismatch at offset \d+")


def parse_qmp(stdout, out):
    """Collect replies and events; return (replies, qemu-io text)."""
    replies, text = [], []
    io_errors, mismatches = set(), set()
    for line in stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            text.append(line)
            continue
        if "return" in msg or "error" in msg:
            replies.append(msg)
        ev = msg.get("event")
        if ev == "QUORUM_REPORT_BAD" and msg["data"]["type"] == "read":
            leg = int(msg["data"]["node-name"][1:])
            if "error" in msg["data"]:
                io_errors.add(leg)
            else:
                mismatches.add(leg)
        elif ev == "QUORUM_FAILURE":
            out.failure = True
    out.io_errors, out.mismatches = sorted(io_errors), sorted(mismatches)
    return replies, "\n".join(text)


def parse_hexdump(text, length):
    data = bytearray()
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]{8}):((?: +[0-9a-f]{2}){1,16})", line)
        if m:
            data += bytes(int(x, 16) for x in m.group(2).split())
    if len(data) != length:
        raise RuntimeError(f"qemu-io dumped {len(data)} bytes, want {length}")
    return bytes(data)


def qemu_half(scenarios, workdir):
    os.makedirs(workdir, exist_ok=True)
    return [run_qemu(s, workdir) for s in scenarios]


# ----------------------------------------------------------- dm-quorum ---

RAM = "/dev/ram0"
BATCH = 50


def leg_start(k, i):
    """First sector of leg i of scenario slot k on the brd disk."""
    return (k * MAX_LEGS + i) * SECTORS


def concise(specs):
    """dmsetup create --concise spec for (name, table) pairs."""
    return ";".join(f"{name},,,rw,{table}" for name, table in specs)


def dm_table(s, k):
    legs = []
    for i in range(s.n):
        legs.append(f"/dev/mapper/{'qdbad' if s.failing[i] else 'qdok'}{k}_{i}")
    opts = []
    if s.pattern == "fifo":
        opts += ["read_pattern", "fifo"]
    if s.rewrite:
        opts.append("rewrite_corrupted")
    if s.blkverify:
        opts.append("blkverify")
    line = f"0 {SECTORS} quorum {s.threshold} {s.n} {' '.join(legs)}"
    if opts:
        line += f" {len(opts)} {' '.join(opts)}"
    return line


class DmBatch:
    """Up to BATCH scenarios at once: each slot k has MAX_LEGS slices of one
    brd disk, seen through qdok<k>_<i> (linear) and qdbad<k>_<i> (dm-delay:
    reads go to an error target, writes to the slice)."""

    def __init__(self):
        size_kib = BATCH * MAX_LEGS * LEG_BYTES >> 10
        run("modprobe", "brd", "rd_nr=1", f"rd_size={size_kib}")
        run("modprobe", "dm-delay")
        specs = [("qderr", f"0 {SECTORS} error")]
        for k in range(BATCH):
            for i in range(MAX_LEGS):
                start = leg_start(k, i)
                specs.append((f"qdok{k}_{i}", f"0 {SECTORS} linear {RAM} {start}"))
                specs.append((f"qdbad{k}_{i}",
                              f"0 {SECTORS} delay /dev/mapper/qderr 0 0 {RAM} {start} 0"))
        run("dmsetup", "create", "--concise", concise(specs))

    def run(self, batch):
        """dm-quorum outcomes for a list of scenarios (len <= BATCH)."""
        outs = [Outcome() for _ in batch]
        for k, s in enumerate(batch):
            for i in range(s.n):
                pwrite_direct(RAM, s.data[i], leg_start(k, i) * 512)
        created = self.create(batch, outs)
        for k, s in enumerate(batch):
            if k in created:
                self.read(k, s, outs[k])
        status = self.status()
        run("dmsetup", "remove", "--retry", *[f"qd{k}" for k in created])
        for k, s in enumerate(batch):
            if k not in created:
                continue
            self.account(status[f"qd{k}"], outs[k])
            for i in range(s.n):
                after = pread_direct(RAM, leg_start(k, i) * 512, LEG_BYTES)
                outs[k].contents.append(digest(after))
        return outs

    @staticmethod
    def create(batch, outs):
        """Create the batch's devices: the tables expected to be refused
        one by one, the rest in one call; if that call is refused too,
        one by one to find the tables dm-quorum refuses."""
        specs = [(f"qd{k}", dm_table(s, k)) for k, s in enumerate(batch)]
        single = [k for k, s in enumerate(batch) if s.rewrite and s.pattern == "fifo"]
        rest = [k for k in range(len(batch)) if k not in single]
        p = run("dmsetup", "create", "--concise",
                concise(specs[k] for k in rest), check=False)
        if p.returncode:
            run("dmsetup", "remove", *[specs[k][0] for k in rest], check=False)
            single = range(len(batch))
        created = set(range(len(batch))) - set(single)
        for k in single:
            name, table = specs[k]
            if run("dmsetup", "create", name, "--table", table, check=False).returncode:
                outs[k].refused = True
            else:
                created.add(k)
        return created

    @staticmethod
    def read(k, s, out):
        kmsg = kmsg_open()
        data = pread_direct(f"/dev/mapper/qd{k}", s.offset, s.length)
        out.data = None if data is None else digest(data)
        for line in kmsg_read(kmsg):
            m = BLKVERIFY_RE.search(line)
            if m:
                out.message = m.group(0)

    @staticmethod
    def status():
        """name -> (per-leg (io_errors, mismatches, rewrites), failures)"""
        result = {}
        for line in run("dmsetup", "status").stdout.splitlines():
            name, _, rest = line.partition(": ")
            f = rest.split()
            if len(f) < 6 or f[2] != "quorum":
                continue
            # 0 <len> quorum <t> <n> <health> {<io> <mm> <rw>}x<n> <failures> ...
            n = int(f[4])
            legs = [tuple(int(x) for x in f[6 + 3 * i: 9 + 3 * i]) for i in range(n)]
            result[name] = (legs, int(f[6 + 3 * n]))
        return result

    @staticmethod
    def account(status, out):
        legs, failures = status
        out.io_errors = [i for i, c in enumerate(legs) if c[0]]
        out.mismatches = [i for i, c in enumerate(legs) if c[1]]
        out.rewritten = [i for i, c in enumerate(legs) if c[2]]
        out.failure = failures > 0


def dm_half(scenarios):
    batch = DmBatch()
    outs = []
    for first in range(0, len(scenarios), BATCH):
        outs += batch.run(scenarios[first:first + BATCH])
    return outs


def kmsg_open():
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(fd, 0, os.SEEK_END)
    return fd


def kmsg_read(fd):
    lines = []
    while True:
        try:
            rec = os.read(fd, 8192)
        except BlockingIOError:
            break
        except OSError as e:  # EPIPE: overwritten records, go on
            if e.errno == errno.EPIPE:
                continue
            raise
        lines.append(rec.decode(errors="replace").split(";", 1)[-1].split("\n")[0])
    os.close(fd)
    return lines


# ------------------------------------------------------------ compare ---


def compare(s, q, d):
    """List of differences between QEMU's outcome q and dm-quorum's d."""
    if s.rewrite and s.pattern == "fifo":
        # deliberate difference: QEMU accepts rewrite-corrupted with
        # read-pattern fifo and ignores it (fifo never votes); dm-quorum
        # refuses the table instead of ignoring an option
        return [] if not q.refused and d.refused else [
            f"fifo+rewrite: QEMU refused={q.refused} (want False), "
            f"dm refused={d.refused} (want True)"]
    if q.refused or d.refused:
        return [f"refused: QEMU {q.refused}, dm-quorum {d.refused}"]
    diffs = []
    if s.blkverify and q.message:
        # deliberate difference: QEMU exits, dm-quorum fails the read
        if d.message != q.message:
            diffs.append(f"blkverify message: QEMU '{q.message}', dm '{d.message}'")
        if d.data is not None or not d.failure:
            diffs.append("blkverify mismatch: dm-quorum must fail the read")
        return diffs
    if q.data != d.data:
        diffs.append("data: QEMU %s, dm-quorum %s" % (
            "EIO" if q.data is None else "ok",
            "EIO" if d.data is None else "ok" if q.data is None else "different"))
    for what in ("io_errors", "mismatches", "failure", "rewritten", "message"):
        if getattr(q, what) != getattr(d, what):
            diffs.append(f"{what}: QEMU {getattr(q, what)}, dm-quorum {getattr(d, what)}")
    for i in range(s.n):
        if q.contents[i] != d.contents[i]:
            diffs.append(f"leg {i} contents differ afterwards")
    return diffs


def tally(seen, s, q):
    if q.refused or (s.rewrite and s.pattern == "fifo"):
        key = "refused"
    elif q.message:
        key = "blkverify-mismatch"
    elif q.data is None:
        key = "eio"
    elif q.mismatches:
        key = "outvoted"
    else:
        key = "agree"
    seen[key] = seen.get(key, 0) + 1
    for key, hit in (("read-error", q.io_errors), ("rewrite", q.rewritten)):
        if hit:
            seen[key] = seen.get(key, 0) + 1


def scenarios_for(args):
    rng = random.Random(args.seed)
    return [Scenario(rng, k) for k in range(args.count)]


def cmd_qemu(args):
    outs = qemu_half(scenarios_for(args), args.workdir)
    with open(args.out, "w") as f:
        json.dump({"seed": args.seed, "count": args.count,
                   "outcomes": [o.to_json() for o in outs]}, f)
    print(f"qemu-diff: QEMU's outcomes of {args.count} scenarios in {args.out}")
    return 0


def cmd_dm(args):
    if args.expect:
        with open(args.expect) as f:
            exp = json.load(f)
        args.seed, args.count = exp["seed"], exp["count"]
        qouts = [Outcome.from_json(o) for o in exp["outcomes"]]
        scenarios = scenarios_for(args)
    else:
        scenarios = scenarios_for(args)
        qouts = qemu_half(scenarios, args.workdir)
    douts = dm_half(scenarios)
    bad, seen = 0, {}
    for s, q, d in zip(scenarios, qouts, douts):
        diffs = compare(s, q, d)
        tally(seen, s, q)
        if diffs or args.verbose:
            print(s.describe())
            print(f"    QEMU:      {q.summary()}")
            print(f"    dm-quorum: {d.summary()}")
        for line in diffs:
            print(f"    DIFF: {line}")
        bad += bool(diffs)
    print("outcomes covered: " + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())))
    print(f"qemu-diff: {args.count - bad} of {args.count} scenarios agree (seed {args.seed})")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("qemu", "dm"):
        p = sub.add_parser(name)
        p.add_argument("--count", type=int, default=200)
        p.add_argument("--seed", type=int, default=20261126)
        p.add_argument("--workdir", default="/tmp/qemu-diff")
    sub.choices["qemu"].add_argument("--out", required=True)
    sub.choices["dm"].add_argument("--expect")
    sub.choices["dm"].add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    return cmd_qemu(args) if args.cmd == "qemu" else cmd_dm(args)


if __name__ == "__main__":
    sys.exit(main())
