# SPDX-License-Identifier: GPL-2.0
"""The device-mapper ioctls, straight from Python (no dmsetup).

Each dmsetup call costs about half a second under TCG, mostly starting the
process; the hostile-input test sends hundreds of tables and messages, so
it talks to /dev/mapper/control itself.  Layouts from
include/uapi/linux/dm-ioctl.h (interface version 4).
"""
import errno
import fcntl
import os
import struct

HEADER = struct.Struct("=3I I I I i I I I Q 128s 129s 7s")
SPEC = struct.Struct("=Q Q i I 16s")
assert HEADER.size == 312 and SPEC.size == 40

DM_DEV_CREATE, DM_DEV_REMOVE, DM_DEV_SUSPEND = 3, 4, 6
DM_TABLE_LOAD, DM_TABLE_CLEAR, DM_TABLE_STATUS, DM_TARGET_MSG = 9, 10, 12, 14
DM_SUSPEND_FLAG = 1 << 1
DM_STATUS_TABLE_FLAG = 1 << 4
DM_DATA_OUT_FLAG = 1 << 16
OUT_SIZE = 16384


def _cmd(nr):
    # _IOWR(0xfd, nr, struct dm_ioctl)
    return (3 << 30) | (HEADER.size << 16) | (0xfd << 8) | nr


def _align8(n):
    return (n + 7) & ~7


class DmError(OSError):
    pass


class Control:
    def __init__(self):
        self.fd = os.open("/dev/mapper/control", os.O_RDWR)

    def close(self):
        os.close(self.fd)

    def call(self, nr, name, payload=b"", flags=0, target_count=0):
        """Run one ioctl; returns (header fields, data) or raises DmError."""
        size = max(HEADER.size + len(payload), OUT_SIZE)
        hdr = HEADER.pack(4, 0, 0, size, HEADER.size, target_count, 0,
                          flags, 0, 0, 0, name.encode(), b"", b"")
        buf = bytearray(hdr + payload + bytes(size - HEADER.size - len(payload)))
        try:
            fcntl.ioctl(self.fd, _cmd(nr), buf, True)
        except OSError as e:
            raise DmError(e.errno, f"{name}: {os.strerror(e.errno)}") from None
        fields = HEADER.unpack_from(buf)
        start = fields[4]
        return fields, bytes(buf[start:fields[3]])

    def create(self, name):
        self.call(DM_DEV_CREATE, name)

    def remove(self, name):
        self.call(DM_DEV_REMOVE, name)

    def resume(self, name):
        self.call(DM_DEV_SUSPEND, name)

    def suspend(self, name):
        self.call(DM_DEV_SUSPEND, name, flags=DM_SUSPEND_FLAG)

    def clear(self, name):
        self.call(DM_TABLE_CLEAR, name)

    def load(self, name, targets):
        """targets: [(start, length, type, params)]"""
        payload = b""
        for i, (start, length, ttype, params) in enumerate(targets):
            text = params.encode() + b"\0"
            nxt = _align8(SPEC.size + len(text))
            last = i == len(targets) - 1
            payload += SPEC.pack(start, length, 0, 0 if last else nxt,
                                 ttype.encode())
            payload += text + bytes(nxt - SPEC.size - len(text))
        self.call(DM_TABLE_LOAD, name, payload, target_count=len(targets))

    def message(self, name, text, sector=0):
        payload = struct.pack("=Q", sector) + text.encode() + b"\0"
        self.call(DM_TARGET_MSG, name, payload)

    def status(self, name, table=False):
        """The first target's status (or table) line."""
        fields, data = self.call(
            DM_TABLE_STATUS, name,
            flags=DM_STATUS_TABLE_FLAG if table else 0)
        if not fields[5]:
            return ""
        start, length, _st, _nxt, ttype = SPEC.unpack_from(data)
        text = data[SPEC.size:].split(b"\0", 1)[0].decode()
        return f"{start} {length} {ttype.rstrip(bytes(1)).decode()} {text}"

    def exists(self, name):
        try:
            self.status(name)
            return True
        except DmError as e:
            if e.errno == errno.ENXIO:
                return False
            raise


class Kmsg:
    """New kernel log lines since the last call."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def lines(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten: resync
                    continue
                raise
            text = rec.decode(errors="replace")
            out.append(text.split(";", 1)[1].split("\n", 1)[0])
