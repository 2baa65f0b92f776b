#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""hostile.py: malformed tables and messages, each of which must be refused.

  hostile.py --device NAME --legs A,B,C --other-leg D --small S --sectors N

NAME is a live 2-of-3 quorum device over A, B, C with N sectors; D is a
leg of another quorum device; S is a device smaller than N sectors.  Every
generated table is loaded (inactive) over NAME and every message sent to
it, through the ioctls (tests/hostile/dmioctl.py).  Each must fail, and
the kernel log must say why: a "quorum: <error>" line from the table
loader, or "message refused: <why>" from the target, never dm's "Unknown
error".  The live table must be untouched at the end.

Prints one line per category and the totals; exit status 1 if any input
was accepted or refused without a clear error.
"""
import argparse
import errno
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dmioctl import Control, DmError, Kmsg  # noqa: E402

# Numbers the parser must refuse wherever a count or an index goes (a
# table splits on white space, so none holds any).
BAD_NUMBERS = ["-1", "-0", "+1", "+2", "0x2", "0x10", "2x", "1.0", "2.5",
               "1e1", "two", "0b10", "4294967296", "4294967297",
               "18446744073709551616", "99999999999999999999999",
               "-4294967295", "\u0662", "2,", "~0", "%d", "NaN"]

# Devices that cannot be legs.
BAD_PATHS = ["/dev/nonexistent", "/etc/passwd", "/dev", "/dev/null",
             "/proc/self/fd/0", "relative", "/", "254:99999", "0:0",
             "-1:5", "99999999:1", "/dev/mapper/control", "..", "x" * 300]


class Run:
    def __init__(self, args):
        self.a = args
        self.ctl = Control()
        self.kmsg = Kmsg()
        self.counts = {}
        self.failures = []
        self.total = 0
        self.tried = set()
        self.since_reload = 99

    # -- tables ----------------------------------------------------------
    def fresh(self, key):
        """False for an input already tried."""
        if key in self.tried:
            return False
        self.tried.add(key)
        return True

    def table(self, category, params, length=None, core=False):
        """Load 'quorum <params>' (inactive); it must be refused."""
        length = self.a.sectors if length is None else length
        if not self.fresh(("table", params, length)):
            return
        self.total += 1
        self.counts[category] = self.counts.get(category, 0) + 1
        self.kmsg.lines()
        try:
            self.ctl.load(self.a.device, [(0, length, "quorum", params)])
        except DmError as e:
            self.check_error(category, f"table '{params}' ({length})",
                             e.errno, "quorum: " if not core else
                             "device-mapper:")
            return
        self.ctl.clear(self.a.device)
        self.failures.append(f"{category}: table accepted: '{params}' ({length})")

    def check_error(self, category, what, err, needle):
        lines = self.kmsg.lines()
        said = [ln for ln in lines if needle in ln]
        if not said:
            self.failures.append(f"{category}: {what}: refused ({errno.errorcode.get(err, err)}) "
                                 f"but nothing said why: {lines}")
        elif any("Unknown error" in ln for ln in said):
            self.failures.append(f"{category}: {what}: unclear error: {said}")

    # -- messages --------------------------------------------------------
    def fresh_ratelimit(self):
        """Reload the live table: the new instance logs refusals again."""
        live = self.ctl.status(self.a.device, table=True).split(" ", 3)
        self.ctl.load(self.a.device, [(0, int(live[1]), "quorum", live[3])])
        self.ctl.suspend(self.a.device)
        self.ctl.resume(self.a.device)
        self.since_reload = 0

    def message(self, category, text):
        if not self.fresh(("message", text)):
            return
        if self.since_reload >= 8:  # the refusal log allows 10 per 5 s
            self.fresh_ratelimit()
        self.since_reload += 1
        self.total += 1
        self.counts[category] = self.counts.get(category, 0) + 1
        self.kmsg.lines()
        try:
            self.ctl.message(self.a.device, text)
        except DmError as e:
            self.check_error(category, f"message '{text}'", e.errno,
                             "message refused: ")
            return
        self.failures.append(f"{category}: message accepted: '{text}'")

    # -- the generators --------------------------------------------------
    def gen_tables(self):
        a = self.a
        legs = a.legs
        three = " ".join(legs)
        two = " ".join(legs[:2])

        # every prefix of a line is incomplete, unless it is a valid line
        valid = (f"2 3 {three}", f"2 2 {two}")
        for line in valid + (f"2 3 {three} 2 read_pattern fifo",
                             f"2 3 {three} 5 rewrite_corrupted hash crc32c region_size 64",
                             f"2 2 {two} 1 blkverify"):
            words = line.split()
            for n in range(len(words)):
                prefix = " ".join(words[:n])
                if prefix not in valid:
                    self.table("truncated", prefix)
            self.table("extra argument", line + " extra")
            if line not in valid:
                self.table("extra argument", line + " 0")

        for bad in BAD_NUMBERS + ["0", "4", "17"]:
            self.table("threshold", f"{bad} 3 {three}")
        for bad in BAD_NUMBERS + ["0", "17", "4", "2", "1", "4294967295"]:
            self.table("leg count", f"2 {bad} {three}")
        for bad in BAD_NUMBERS + ["0", "3", "4294967295"]:
            self.table("option count", f"2 3 {three} {bad} read_pattern fifo")
            self.table("option count", f"2 3 {three} {bad} rewrite_corrupted")
        self.table("option count", f"2 3 {three} 1 read_pattern fifo")
        for bad in BAD_NUMBERS + ["0", "1", "4", "7", "12", "100", "4194304",
                                  "2147483648", "4294967295"]:
            self.table("region_size", f"2 3 {three} 2 region_size {bad}")
        for bad in ["lifo", "QUORUM", "Fifo", "quorum,fifo", "round-robin",
                    "1", "-", "fifo1", "qu0rum"] + BAD_NUMBERS:
            self.table("read_pattern", f"2 3 {three} 2 read_pattern {bad}")
        for bad in ["nosuchalg", "hmac(sha256)", "cbc(aes)", "aes",
                    "sha256-nosuch", "x" * 200, "hmac(crc32c)", "gcm(aes)",
                    "xxhash", "sha", "*", "sha256)", "(sha256"]:
            self.table("hash", f"2 3 {three} 2 hash {bad}")
        for key in ["read-pattern", "READ_PATTERN", "rewrite", "nosync",
                    "blkverify2", "hash=sha256", "region", "handle_errors",
                    "ignore_discard", "1", "-", "quorum"] + BAD_NUMBERS:
            self.table("unknown option", f"2 3 {three} 1 {key}")
            self.table("unknown option", f"2 3 {three} 3 read_pattern fifo {key}")
        for opt in ["read_pattern quorum", "rewrite_corrupted",
                    "hash sha256", "region_size 64"]:
            n = len(opt.split()) * 2
            self.table("repeated option", f"2 3 {three} {n} {opt} {opt}")
        for key in ["read_pattern", "hash", "region_size"]:
            self.table("missing value", f"2 3 {three} 1 {key}")
            self.table("missing value", f"2 3 {three} 2 rewrite_corrupted {key}")
        # options where the legs go, legs where the options go
        self.table("misplaced options", f"2 3 1 blkverify {three}")
        self.table("misplaced options", f"2 3 2 read_pattern fifo {three}")
        self.table("misplaced options", f"read_pattern fifo 2 3 {three}")
        self.table("misplaced options", f"2 3 {two} 1 {legs[2]}")
        self.table("misplaced options", f"{three} 2 3")
        for opts in ["3 rewrite_corrupted read_pattern fifo",
                     "3 read_pattern fifo blkverify",
                     "2 rewrite_corrupted blkverify",
                     "1 blkverify"]:
            self.table("conflicting options", f"2 3 {three} {opts}")
        self.table("conflicting options", f"1 2 {two} 1 blkverify")
        self.table("conflicting options", f"2 2 {two} 3 blkverify read_pattern fifo")

        for bad in BAD_PATHS:
            for pos in range(3):
                leg = list(legs)
                leg[pos] = bad
                self.table("bad leg device", f"2 3 {' '.join(leg)}")
        for i in range(3):
            for j in range(3):
                if i != j:
                    leg = list(legs)
                    leg[j] = legs[i]
                    self.table("duplicated leg", f"2 3 {' '.join(leg)}")
        dup = legs[0]
        self.table("duplicated leg", f"1 4 {three} {dup}")
        me = f"/dev/mapper/{a.device}"
        for pos in range(3):
            for dev, cat in ((me, "leg is the quorum device"),
                             (a.other_leg, "leg of another quorum device"),
                             (a.small, "leg too small")):
                leg = list(legs)
                leg[pos] = dev
                self.table(cat, f"2 3 {' '.join(leg)}")
        for length in (a.sectors + 1, a.sectors + 8, 2 * a.sectors,
                       (1 << 40)):
            self.table("length past the legs", f"2 3 {three}", length)
        # dm core refuses this one before the target sees it
        self.table("length past the legs", f"2 3 {three}", (1 << 63) - 1,
                   core=True)
        self.table("zero length", f"2 3 {three}", 0, core=True)

    def gen_messages(self):
        a = self.a
        for text in ["foo", "FAIL 0", "fail0", "Check", "scrub", "resync",
                     "help", "rewrite_all", "-1", "0", "status", "\u00e9"]:
            self.message("unknown message", text)
        # wrong argument counts for each message
        for text in ["rewrite", "rewrite 0 1", "replace", "replace 0",
                     f"replace 0 {a.small} x", "fail", "fail 0 1",
                     "reinstate", "reinstate 0 0", "add_leg",
                     f"add_leg {a.small} {a.small}", "remove_leg",
                     "remove_leg 0 1", "check 0", "repair all", "idle now",
                     "check check"]:
            self.message("argument count", text)
        for verb in ("rewrite", "fail", "reinstate", "remove_leg"):
            for bad in BAD_NUMBERS + ["3", "16", "17", "4294967295"]:
                self.message("leg index", f"{verb} {bad}")
        for bad in BAD_NUMBERS + ["3", "16"]:
            self.message("leg index", f"replace {bad} {a.small}")
        me = f"/dev/mapper/{a.device}"
        for dev in BAD_PATHS + [me, a.other_leg, a.small, a.legs[1]]:
            self.message("replace device", f"replace 0 {dev}")
            self.message("add_leg device", f"add_leg {dev}")

    def run(self):
        live = self.ctl.status(self.a.device, table=True)
        self.gen_tables()
        self.gen_messages()
        time.sleep(0.1)
        after = self.ctl.status(self.a.device, table=True)
        if after != live:
            self.failures.append(f"live table changed: '{live}' -> '{after}'")
        for cat, n in self.counts.items():
            print(f"hostile: {n:4d} {cat}")
        print(f"hostile: {self.total} inputs, {len(self.failures)} not refused clearly")
        for f in self.failures:
            print(f"hostile: FAIL {f}")
        return 1 if self.failures else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", required=True)
    p.add_argument("--legs", required=True, type=lambda s: s.split(","))
    p.add_argument("--other-leg", required=True)
    p.add_argument("--small", required=True)
    p.add_argument("--sectors", required=True, type=int)
    sys.exit(Run(p.parse_args()).run())


if __name__ == "__main__":
    main()
