#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py <results dir>: turn a `make bench` run into a report.

Reads <dir>/runs.tsv and the raw fio JSON / qemu-img bench output under
<dir>/raw/, takes the median of the repeats of every (stack, workload),
and writes:
  report.md     the table (IOPS, bandwidth, p99 latency), the ratios of
                every dm-quorum figure to md raid1, dm-mirror, dm-linear
                and QEMU quorum, the issue's targets met or missed, memory
  summary.json  the same figures, machine-readable
  bench.png     a bar chart of IOPS relative to dm-linear (gnuplot)
Exit status 0; a missed target is reported, not an error.
"""
import json
import os
import re
import statistics
import subprocess
import sys

STACKS = [
    ("linear", "dm-linear (1 leg)"),
    ("mirror", "dm-mirror 3 legs"),
    ("raid1", "md raid1 (dm-raid) 3 legs"),
    ("quorum", "dm-quorum 2/3, quorum reads"),
    ("fifo", "dm-quorum 2/3, fifo reads"),
    ("quorum3", "dm-quorum 2/3, quorum reads, 3 jobs"),
    ("corrupt", "dm-quorum 2/3, 1 leg corrupt"),
    ("repaired", "dm-quorum 2/3, after repair"),
    ("qemu", "QEMU quorum 2/3 (qemu-img bench)"),
    ("bound", "3-leg read bound (3 jobs) / 3"),
    ("bound1", "3-leg read bound (1 job) / 3"),
    ("quorum-md", "dm-quorum 2/3, metadata internal"),
    ("quorum-md8", "dm-quorum 2/3, metadata, 4 KiB regions"),
    ("raid1-bitmap", "md raid1 (dm-raid) 3 legs, bitmap"),
    ("mirror-disklog", "dm-mirror 3 legs, disk log"),
]
WORKLOADS = ["randwrite-4k-qd1", "randwrite-4k-qd32", "randread-4k-qd1",
             "randread-4k-qd32", "write-1m-qd8", "read-1m-qd8"]
BS = {"4k": 4096, "1m": 1048576}


def fio_figures(path):
    """IOPS, bytes/s and p99 completion latency (us) of a fio JSON file."""
    with open(path) as f:
        text = f.read()
    # fio may print notes before the JSON object
    data = json.loads(text[text.index("{"):])
    iops = bw = 0.0
    p99 = None
    for job in data["jobs"]:
        for d in ("read", "write"):
            s = job[d]
            if not s["io_bytes"]:
                continue
            iops += s["iops"]
            bw += s["bw_bytes"]
            pct = s.get("clat_ns", {}).get("percentile", {})
            if "99.000000" in pct:
                v = pct["99.000000"] / 1000.0
                p99 = v if p99 is None else max(p99, v)
    return iops, bw, p99


def qemu_figures(path):
    with open(path) as f:
        text = f.read()
    count = int(re.search(r"^count (\d+)", text, re.M).group(1))
    bs = BS[re.search(r"^bs (\S+)", text, re.M).group(1)]
    m = re.search(r"Run completed in ([0-9.]+) seconds", text)
    if not m:
        raise ValueError(f"{path}: qemu-img bench did not complete")
    secs = float(m.group(1))
    return count / secs, count * bs / secs, None


def collect(outdir):
    """Median figures per (stack, workload), and IOPS per repeat."""
    runs = {}
    per_rep = {}
    with open(os.path.join(outdir, "runs.tsv")) as f:
        for line in f:
            stack, wl, rep, name = line.rstrip("\n").split("\t")
            path = os.path.join(outdir, "raw", name)
            fig = qemu_figures(path) if stack == "qemu" else fio_figures(path)
            if stack.startswith("bound"):
                # every quorum read reads all 3 legs
                fig = (fig[0] / 3, fig[1] / 3, fig[2])
            runs.setdefault((stack, wl), []).append(fig)
            per_rep.setdefault((stack, wl), {})[rep] = fig[0]
    med = {}
    for key, figs in runs.items():
        p99s = [f[2] for f in figs if f[2] is not None]
        med[key] = {
            "iops": statistics.median(f[0] for f in figs),
            "bw": statistics.median(f[1] for f in figs),
            "p99_us": statistics.median(p99s) if p99s else None,
            "runs": len(figs),
            "min": min(f[0] for f in figs),
            "max": max(f[0] for f in figs),
            "by_rep": per_rep[key],
        }
    return med


def ratio(med, a, b, wl):
    """IOPS of a over b: the median of the per-repeat ratios.

    Each repeat runs every stack once, one after the other, so a ratio
    within a repeat cancels the host's slow drifts; the median of those
    is steadier than a ratio of medians.
    """
    ma, mb = med.get((a, wl)), med.get((b, wl))
    if not ma or not mb:
        return None
    ra, rb = ma["by_rep"], mb["by_rep"]
    pairs = [ra[r] / rb[r] for r in ra if r in rb and rb[r]]
    return statistics.median(pairs) if pairs else None


def spread(med, st, wl):
    """(max - min) / median IOPS over the repeats, in percent."""
    m = med.get((st, wl))
    if not m or not m["iops"]:
        return None
    return 100.0 * (m["max"] - m["min"]) / m["iops"]


def fmt_iops(v):
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def targets(med):
    """The issue's targets: (description, ratio, goal)."""
    out = []
    for wl in WORKLOADS:
        for st in ("quorum", "fifo"):
            out.append((f"{st} {wl} vs QEMU quorum",
                        ratio(med, st, "qemu", wl), 1.0))
    for wl in WORKLOADS:
        if "write" in wl:
            for other in ("raid1", "mirror"):
                out.append((f"quorum {wl} vs {other}",
                            ratio(med, "quorum", other, wl), 1.0))
    for wl in WORKLOADS:
        if "read" in wl:
            out.append((f"fifo {wl} vs dm-linear",
                        ratio(med, "fifo", "linear", wl), 0.95))
            out.append((f"quorum {wl} vs 3-leg bound",
                        ratio(med, "quorum", "bound", wl), 0.8))
            out.append((f"quorum {wl}, 3 jobs as the bound, vs 3-leg bound",
                        ratio(med, "quorum3", "bound", wl), 0.8))
    out.append(("corrupt leg randread-4k-qd32 vs all agree",
                ratio(med, "corrupt", "quorum", "randread-4k-qd32"), 0.5))
    for wl in ("randwrite-4k-qd1", "randwrite-4k-qd32"):
        out.append((f"metadata {wl} vs no metadata",
                    ratio(med, "quorum-md", "quorum", wl), 0.9))
        for st in ("quorum-md", "quorum-md8"):
            out.append((f"{st} {wl} vs md raid1 with bitmap",
                        ratio(med, st, "raid1-bitmap", wl), 1.0))
    out.append(("metadata, 4 KiB regions, randwrite-4k-qd32 vs no metadata",
                ratio(med, "quorum-md8", "quorum", "randwrite-4k-qd32"), 0.7))
    return out


def md_writes(outdir):
    """Metadata blocks written (all legs) per data write, median of repeats."""
    per = {}
    with open(os.path.join(outdir, "runs.tsv")) as f:
        for line in f:
            stack, wl, _rep, name = line.rstrip("\n").split("\t")
            path = os.path.join(outdir, "raw", name)
            mdw = path[:-len(".json")] + ".mdw"
            if not os.path.exists(mdw):
                continue
            with open(path) as j:
                text = j.read()
            data = json.loads(text[text.index("{"):])
            ios = sum(job["write"]["total_ios"] for job in data["jobs"])
            with open(mdw) as m:
                blocks = int(m.read().split()[0])
            if ios:
                per.setdefault((stack, wl), []).append(blocks / ios)
    return {k: statistics.median(v) for k, v in per.items()}


def memory(outdir):
    """Used memory (MemFree drop, kB) over idle, max while 1M QD64 ran."""
    res = {}
    for st in ("linear", "quorum"):
        path = os.path.join(outdir, "raw", f"mem.{st}.tsv")
        if not os.path.exists(path):
            continue
        idle = None
        peak_used = peak_slab = 0
        buffers = None
        with open(path) as f:
            for line in f:
                if line.startswith("buffers"):
                    buffers = int(line.split()[1])
                    continue
                kind, free, slab, _sunreclaim = line.split()
                free, slab = int(free), int(slab)
                if kind == "idle":
                    idle = (free, slab)
                elif idle:
                    peak_used = max(peak_used, idle[0] - free)
                    peak_slab = max(peak_slab, slab - idle[1])
        res[st] = {"used_kb": peak_used, "slab_kb": peak_slab,
                   "read_buffer_kb": buffers}
    return res


def env(outdir):
    res = {}
    path = os.path.join(outdir, "env.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                res[k] = v
    return res


def legs_text(e):
    size = f"{e.get('leg_mb', '?')} MiB"
    if e.get("legs") == "nbd":
        return (f"3 brd ramdisks of {size}, each served by qemu-nbd in the "
                "guest, used as /dev/nbd0-2")
    return f"3 brd ramdisks of {size}"


def table(med):
    lines = ["| stack | " + " | ".join(WORKLOADS) + " |",
             "| --- |" + " --- |" * len(WORKLOADS)]
    for st, label in STACKS:
        cells = []
        for wl in WORKLOADS:
            m = med.get((st, wl))
            if not m:
                cells.append("")
                continue
            c = f"{fmt_iops(m['iops'])} IOPS (±{spread(med, st, wl) / 2:.0f}%), " \
                f"{m['bw'] / 1e6:.0f} MB/s"
            if m["p99_us"] is not None:
                c += f", p99 {m['p99_us']:.0f} us"
            cells.append(c)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def ratio_table(med):
    lines = ["| dm-quorum | vs | " + " | ".join(WORKLOADS) + " |",
             "| --- | --- |" + " --- |" * len(WORKLOADS)]
    for st in ("quorum", "fifo", "quorum3", "corrupt", "repaired"):
        for other in ("raid1", "mirror", "linear", "qemu", "bound", "bound1"):
            if other.startswith("bound") and st == "fifo":
                continue
            cells = [fmt_ratio(ratio(med, st, other, wl)) for wl in WORKLOADS]
            if all(c == "-" for c in cells):
                continue
            lines.append(f"| {st} | {other} | " + " | ".join(cells) + " |")
    return lines


def readme_table(med):
    """The condensed table the README shows: IOPS, and the key ratios."""
    cols = ["linear", "mirror", "raid1", "quorum", "fifo", "qemu"]
    lines = ["| workload | dm-linear | dm-mirror | md raid1 | dm-quorum | "
             "dm-quorum fifo | QEMU quorum | dm-quorum vs raid1 / mirror / "
             "QEMU |", "| --- |" + " ---: |" * 7]
    for wl in WORKLOADS:
        cells = [fmt_iops(med[(st, wl)]["iops"]) if (st, wl) in med else "-"
                 for st in cols]
        rs = " / ".join(fmt_ratio(ratio(med, "quorum", o, wl))
                        for o in ("raid1", "mirror", "qemu"))
        lines.append(f"| {wl} | " + " | ".join(cells) + f" | {rs} |")
    return lines


def chart(outdir, med):
    """IOPS relative to dm-linear, one cluster per workload."""
    shown = ["mirror", "raid1", "quorum", "fifo", "qemu"]
    dat = os.path.join(outdir, "bench.dat")
    with open(dat, "w") as f:
        f.write("# workload " + " ".join(shown) + "\n")
        for wl in WORKLOADS:
            vals = [ratio(med, st, "linear", wl) or 0 for st in shown]
            f.write(wl + " " + " ".join(f"{v:.3f}" for v in vals) + "\n")
    labels = dict(STACKS)
    plots = ", ".join(
        f"'{dat}' using {i + 2}:xtic(1) title '{labels[st]}'"
        for i, st in enumerate(shown))
    script = f"""
set terminal pngcairo size 1000,500 font 'sans,10'
set output '{os.path.join(outdir, 'bench.png')}'
set title 'IOPS relative to dm-linear on one leg (same VM boot, median of repeats)'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set ylabel 'x dm-linear'
set yrange [0:*]
set grid ytics
set key outside bottom center horizontal
set xtics rotate by -20
plot {plots}
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: no chart ({e})", file=sys.stderr)


def compare_cost(outdir):
    """compare-bench's timings (us per 128 KiB piece), or None."""
    path = os.path.join(outdir, "compare.tsv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        t = dict((k, float(v)) for k, v in
                 (line.split("\t") for line in f if "\t" in line))
    if not all(k in t for k in ("copies", "compare-in-turn",
                                "compare-pairs")):
        return None
    return t


def compare_section(t):
    c = t["copies"]
    md = ["", "## What a compare costs (compare-bench)", "",
          "Per 128 KiB piece of a 3-leg quorum read, in this guest: three "
          "copies with `rep movsq`, a model of reading three RAM-disk legs "
          "(the kernel's own copy loop may cost more or less), and the "
          "compare of the three, with each leg in turn against the first "
          "and two at a time (what dm-quorum does). With copies this fast, "
          "quorum reads could reach at most copies / (copies + compare) of "
          "the 3-leg bound: an estimate, not a measurement of the bound.",
          "",
          "| measure | us | of the copies | estimated ceiling |",
          "| --- | ---: | ---: | ---: |",
          f"| 3 copies | {c:.1f} | 1.00 | - |"]
    for key, name in (("compare-in-turn", "compare, legs in turn"),
                      ("compare-pairs", "compare, two legs at a time")):
        v = t[key]
        md.append(f"| {name} | {v:.1f} | {v / c:.2f} | "
                  f"{c / (c + v):.2f}x |")
    return md


def main():
    outdir = sys.argv[1]
    med = collect(outdir)
    tg = targets(med)
    mem = memory(outdir)
    e = env(outdir)
    md = [f"# make bench: {e.get('kernel', '?')}, {e.get('cpus', '?')} vCPUs (TCG)",
          "",
          f"{e.get('repeat', '?')} repeats of {e.get('runtime', '?')} s per job, "
          f"median shown; legs: {legs_text(e)}; "
          f"{e.get('fio', '')}, {e.get('qemu', '')}.",
          "QEMU quorum runs `qemu-img bench` in the same guest (sequential "
          "with a step; no latency figures). The bound rows are the rate "
          "at which all 3 legs can be read at once, divided by 3.",
          "",
          "± is half the spread (max - min) of the repeats over the median. "
          "Ratios are the median of the ratios within each repeat, where "
          "the stacks ran one after the other.",
          "dm-quorum's quorum and fifo stacks share the same write path: "
          "their write figures differ only by noise.",
          "", "## Results", ""]
    md += table(med)
    md += ["", "## dm-quorum as a ratio of the others (IOPS)", ""]
    md += ratio_table(med)
    md += ["", "## Targets", "", "| target | measured | goal | |",
           "| --- | --- | --- | --- |"]
    for desc, r, goal in tg:
        verdict = "?" if r is None else ("met" if r >= goal else "MISSED")
        md.append(f"| {desc} | {fmt_ratio(r)} | {goal:.2f}x | {verdict} |")
    if mem:
        md += ["", "## Memory under 1M reads at QD64", "",
               "Peak drop of MemFree (and growth of Slab) over the idle "
               "figure taken just before the job.", "",
               "The MemFree drop includes fio's own 64 MiB of buffers; "
               "dm-quorum's read buffers are from its status.", "",
               "| stack | MemFree drop kB | Slab growth kB | "
               "dm-quorum read buffers kB |", "| --- | --- | --- | --- |"]
        for st, m in mem.items():
            rb = m["read_buffer_kb"]
            md.append(f"| {st} | {m['used_kb']} | {m['slab_kb']} | "
                      f"{'-' if rb is None else rb} |")
    mdw = md_writes(outdir)
    if mdw:
        md += ["", "## Metadata writes per data write", "",
               "Metadata blocks written, summed over the 3 legs (status "
               "<md_writes>), over the writes fio completed, median of the "
               "repeats: a figure the noise of the machine does not blur.", "",
               "| stack | workload | blocks per write |",
               "| --- | --- | --- |"]
        for (st, wl), v in sorted(mdw.items()):
            md.append(f"| {st} | {wl} | {v:.4f} |")
    cmp = compare_cost(outdir)
    if cmp:
        md += compare_section(cmp)
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(outdir, "readme-table.md"), "w") as f:
        f.write("\n".join(readme_table(med)) + "\n")
    summary = {
        "env": e,
        "results": {f"{s}/{w}": v for (s, w), v in med.items()},
        "targets": [{"target": d, "ratio": r, "goal": g} for d, r, g in tg],
        "memory": mem,
        "compare": cmp,
        "md_writes_per_write": {f"{s}/{w}": v for (s, w), v in mdw.items()},
    }
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    chart(outdir, med)
    missed = [d for d, r, g in tg if r is not None and r < g]
    unmeasured = sum(1 for _, r, _ in tg if r is None)
    measured = len(tg) - unmeasured
    print(f"report: {measured - len(missed)} of {measured} targets met"
          + (f", {unmeasured} not measured (stacks left out)"
             if unmeasured else ""))
    for d in missed:
        print(f"report: missed: {d}")


if __name__ == "__main__":
    main()
