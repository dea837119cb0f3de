#!/usr/bin/python3
"""bench/durable_ab.py — the durable scenario's cost per message, for A/B comparisons of
soukd builds on a shared machine (docs/performance.md, "Durable throughput").

    bench/durable_ab.py OLD:DIR1 NEW:DIR2 [--rounds 2] [--rate 0] [--pairs 1000]
                        [--warmup 3] [--duration 10] [--loadgen PATH] [--keep]

Each DIR holds a soukd and a soukctl. For each round and each build in turn (back to back,
so that both see the same machine): a fresh soukd, bench/run.py's pairs (closed loop, or
open loop at --rate messages/s with latencies), and over the measured window the CPU time
and run-queue wait of each soukd thread (/proc/PID/task/*/schedstat) per accepted
message, bytes written and read per message (/proc/PID/io: write_bytes reaches the disk,
wchar/rchar are what soukd asked for), store operations per message and the group-commit
figures (/metrics). One JSON line per run, with the load average. Wall-clock rates on a
busy machine are noisy; the per-message figures much less so.

`stages` (builds that have them): per stage of a send (souk_send_queue_seconds …
souk_event_write_seconds, docs/operations.md), from the /metrics deltas over the window,
the count, the mean and p50/p99 estimated from the buckets (linear inside a bucket, so
only as fine as the buckets: 0.5 ms … 1 s). A table of them is printed to stderr too.
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("benchrun", os.path.join(HERE, "run.py"))
br = importlib.util.module_from_spec(spec)
spec.loader.exec_module(br)


# soukd's threads: the loop is the main thread; older builds left the storage thread unnamed
NAMES = {"souk-storage": "storage", "souk-checkpoint": "checkpoint", "soukd": "storage"}


def threads(pid):
    """{tid: (role, CPU ns, run-queue wait ns)} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
            name = "loop" if int(tid) == pid else NAMES.get(comm, comm)
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run, wait, _ = f.read().split()
            out[tid] = (name, int(run), int(wait))
        except OSError:
            pass
    return out


def io(pid):
    d = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            d[k] = int(v)
    return d


def cpu_s(pids):
    """utime + stime in seconds, summed over pids (/proc/PID/stat)."""
    t = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        t += int(v[11]) + int(v[12])
    return t / os.sysconf("SC_CLK_TCK")


def kb(nbytes, msgs):
    return round(nbytes / 1024 / max(msgs, 1), 2)


# soukd's per-send stage histograms (docs/operations.md); older builds have none
STAGES = [("queue", "souk_send_queue_seconds"), ("group", "souk_send_group_seconds"),
          ("completion", "souk_send_completion_seconds"), ("ack", "souk_send_ack_seconds"),
          ("event_write", "souk_event_write_seconds")]


def hist_quantile(buckets, q):
    """Estimated q-quantile (seconds) from cumulative (le, count) pairs, interpolating
    linearly inside the bucket that holds it, as Prometheus' histogram_quantile does; a
    quantile in the +Inf bucket is reported as the last finite bound."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank, lo, prev = q * total, 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if le == float("inf"):
                return lo
            if cum == prev:
                return le
            return lo + (le - lo) * (rank - prev) / (cum - prev)
        lo, prev = le, cum
    return lo


def stages(m0, m1):
    """Per stage over the window: count, mean and estimated p50/p99, in ms."""
    out = {}
    for short, name in STAGES:
        if name + "_count" not in m1:
            continue
        n = m1[name + "_count"] - m0.get(name + "_count", 0)
        tot = m1[name + "_sum"] - m0.get(name + "_sum", 0)
        b = []
        for k in m1:
            if k.startswith(name + "_bucket{"):
                le = k.split('"')[1]
                b.append((float("inf") if "Inf" in le else float(le), m1[k] - m0.get(k, 0)))
        b.sort()
        q = {x: hist_quantile(b, x) for x in (0.5, 0.99)}
        out[short] = {"n": int(n), "mean_ms": round(1000 * tot / n, 2) if n else None,
                      "p50_ms": round(1000 * q[0.5], 2) if q[0.5] is not None else None,
                      "p99_ms": round(1000 * q[0.99], 2) if q[0.99] is not None else None}
    return out


def one(name, bindir, a, work):
    bins = {"soukd": os.path.join(bindir, "soukd"), "soukctl": os.path.join(bindir, "soukctl"),
            "loadgen": a.loadgen}
    s = br.Soukd(bins, work, name + "-%d" % int(time.time() * 1000))
    p = dict(br.FULL)
    p.update(pairs=a.pairs, warmup=a.warmup, duration=a.duration)
    ctx = {"p": p, "bins": bins, "work": s.dir}
    try:
        w = br.run_pairs(ctx, s.port, "souk", s.app, a.rate, name, a.rate > 0)
        w.tell("GO")
        time.sleep(a.warmup)
        t0, i0, m0, la = threads(s.proc.pid), io(s.proc.pid), s.metrics(), br.loadavg()
        g0 = cpu_s(p.pid for p in w.procs)
        time.sleep(a.duration)
        t1, i1, m1 = threads(s.proc.pid), io(s.proc.pid), s.metrics()
        g1 = cpu_s(p.pid for p in w.procs)
        res = br.finish_pairs(w, p)
        ops = m1["souk_commit_batch_size_sum"] - m0["souk_commit_batch_size_sum"]
        commits = m1["souk_commit_batch_size_count"] - m0["souk_commit_batch_size_count"]
        csec = m1["souk_commit_seconds_sum"] - m0["souk_commit_seconds_sum"]
        acc = (m1.get("souk_messages_accepted_total", 0) -
               m0.get("souk_messages_accepted_total", 0))
        per = {}
        for tid, (tn, r1, w1) in t1.items():
            r0, w0 = (t0[tid][1], t0[tid][2]) if tid in t0 else (0, 0)  # new thread
            per.setdefault(tn, [0, 0])
            per[tn][0] += (r1 - r0) / 1000 / max(acc, 1)
            per[tn][1] += (w1 - w0) / 1000 / max(acc, 1)
        out = {"name": name, "load": la, "load_end": br.loadavg(),
               "recv_per_s": round(res["received_per_s"], 1),
               "accepted_per_s": round(acc / a.duration, 1),
               "ops_per_msg": round(ops / max(acc, 1), 2),
               "batch_mean": round(ops / commits, 1) if commits else None,
               "commit_ms_mean": round(1000 * csec / commits, 2) if commits else None,
               "write_KB_per_msg": kb(i1["write_bytes"] - i0["write_bytes"], acc),
               "wchar_KB_per_msg": kb(i1["wchar"] - i0["wchar"], acc),
               "rchar_KB_per_msg": kb(i1["rchar"] - i0["rchar"], acc),
               "cpu_us_per_msg": {k: round(v[0], 1) for k, v in per.items()},
               "runq_us_per_msg": {k: round(v[1], 1) for k, v in per.items()},
               "loadgen_cpu_us_per_msg": round((g1 - g0) * 1e6 /
                                               max(res["received_window"], 1), 1),
               "errors": res["errors"]}
        st = stages(m0, m1)
        if st:
            out["stages"] = st
        if a.rate > 0:
            lat = w.latencies_us()
            out["lat_n"] = len(lat)
            out["p50_ms"] = br.pct(lat, 0.5) / 1000 if lat else None
            out["p99_ms"] = br.pct(lat, 0.99) / 1000 if lat else None
            out["commit_hist"] = br.histogram_delta(m0, m1, "souk_commit_seconds")
        if a.keep:
            out["dir"] = s.dir
        return out
    finally:
        s.stop()
        if not a.keep:
            shutil.rmtree(s.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--loadgen", default=os.path.join(os.path.dirname(HERE), "build-bench",
                                                      "bench", "souk_loadgen"))
    a = ap.parse_args()
    if not os.path.exists(a.loadgen):
        ap.error("no load generator at %s (bench/run.py builds it; or --loadgen)" % a.loadgen)
    work = tempfile.mkdtemp(prefix="souk-ab-")
    try:
        for _ in range(a.rounds):
            for v in a.variants:
                name, _, d = v.partition(":")
                r = one(name, d, a, work)
                print(json.dumps(r), flush=True)
                for short, v in r.get("stages", {}).items():
                    print("  %-8s %-11s n %7d  mean %8s ms  p50 %8s ms  p99 %8s ms" %
                          (r["name"], short, v["n"], v["mean_ms"], v["p50_ms"], v["p99_ms"]),
                          file=sys.stderr, flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
