#!/usr/bin/python3
"""bench/run.py — Souk's benchmarks, side by side with Mosquitto, in one command.

    bench/run.py                 build (build-bench/), run every scenario, print one JSON
                                 object and write it to bench/results/latest.json
    bench/run.py --smoke         the same scenarios with tiny counts, in seconds (ctest
                                 bench.smoke); asserts that every figure was produced
    bench/run.py --only idle,durable ...   a subset (development)
    bench/run.py --table FILE.json         the figures of a results file as a Markdown table

Scenarios (docs/performance.md says what each figure means and how it was measured):
  idle      idle_conn_bytes, mosquitto_idle_conn_bytes
  durable   durable_msgs_per_s, commit_batch_mean, e2e_p50_ms, e2e_p99_ms,
            mosquitto_qos1_msgs_per_s
  fanout    fanout_100k_stored_s, fanout_online_10k_s
  storm     reconnect_storm_s
  sdk       sdk_send_us_p50, sdk_sync_msgs_per_s, sqlcipher_raw_rows_per_s
  size      libsouk_stripped_bytes (+ libsouk_dependencies)

Only Debian's python3 standard library is used: this file orchestrates, the load comes from
the C programs souk_loadgen and souk_sdkbench. Every process it starts it also stops.
"""
import argparse
import array
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Counts of the full run (the definitions) and of the smoke run.
FULL = dict(idle_conns=15000, pairs=1000, window=1, warmup=3.0, duration=15.0,
            fanout_stored=100000, fanout_online=10000, storm_devices=10000, storm_behind=50,
            sdk_sends=2000, sdk_sync=10000, raw_rows=10000, raw_batch=200, workers=3,
            body=100, timeout=300, load_fraction=0.5)
SMOKE = dict(idle_conns=60, pairs=10, window=1, warmup=0.3, duration=1.0,
             fanout_stored=500, fanout_online=40, storm_devices=40, storm_behind=5,
             sdk_sends=30, sdk_sync=200, raw_rows=500, raw_batch=200, workers=2,
             body=100, timeout=40, load_fraction=0.5)

SCENARIOS = ["idle", "durable", "fanout", "storm", "sdk", "size"]

# soukd settings for every scenario: the per-user rate limit (a policy, 20/s by default) is
# raised so that it is not what is measured; everything else is the default.
SOUKD_CONFIG = {"send_rate_per_s": 1000000, "send_burst": 1000000, "log_level": "warn"}


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return dict(zip(["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"],
                    v))


def cpu_split(t0, t1):
    """Machine-wide CPU use between two cpu_times() in % — `nice` is work of niced
    (background) processes, which yields to the benchmark's normal-priority ones."""
    d = {k: t1[k] - t0[k] for k in t0}
    tot = sum(d.values()) or 1
    return {k: round(100.0 * v / tot, 1) for k, v in d.items() if v}


def proc_cpu_s(pid):
    """CPU time (user + system, all threads) of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def busy_s(t):
    """Machine-wide busy CPU seconds (all cores) in a cpu_times()."""
    return (sum(t.values()) - t["idle"] - t["iowait"]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU per message of a run: the server process, its load generators and the whole
    machine (kernel threads included: softirqs, writeback), from GO until the generators
    report, divided by the messages received in that time."""

    def __init__(self, server_pid, workers):
        self.server_pid, self.workers = server_pid, workers
        self.t0 = self._sample()

    def _sample(self):
        return (proc_cpu_s(self.server_pid),
                sum(proc_cpu_s(p.pid) for p in self.workers.procs), busy_s(cpu_times()))

    def per_msg_us(self, msgs):
        t1 = self._sample()
        if not msgs:
            return None
        names = ("server", "loadgen", "machine")
        return {k: round(1e6 * (b - a) / msgs, 1) for k, a, b in zip(names, self.t0, t1)}


def nofile_prefix():
    """Raise the open-files limit of a child to 20,000 (soukd does not raise its own)."""
    if shutil.which("prlimit"):
        r = subprocess.run(["prlimit", "--nofile=20000:20000", "true"], capture_output=True)
        if r.returncode == 0:
            return ["prlimit", "--nofile=20000:20000"]
    return []


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def http(method, url, body=None, headers=None, timeout=600):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


class Soukd:
    """One soukd on a fresh data directory with one app."""

    def __init__(self, bins, work, name):
        self.bins = bins
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        out = subprocess.run([bins["soukctl"], "--data-dir", self.data, "app", "create",
                              "bench", "--json"], capture_output=True, text=True, check=True,
                             timeout=60)
        self.app = json.loads(out.stdout)
        cfg = os.path.join(self.dir, "soukd.json")
        with open(cfg, "w") as f:
            json.dump(SOUKD_CONFIG, f)
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "soukd.log"), "ab")
        self.proc = subprocess.Popen(
            nofile_prefix() + [bins["soukd"], "--data-dir", self.data, "--listen",
                               "127.0.0.1:0", "--config", cfg, "--port-file", port_file],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        self.port = 0
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("soukd exited with %s (log in %s)" %
                                   (self.proc.returncode, self.dir))
            if os.path.exists(port_file):
                txt = open(port_file).read().strip()
                if txt:
                    self.port = int(txt)
                    try:
                        if http("GET", self.base + "/healthz", timeout=2)[0] == 200:
                            return
                    except OSError:
                        pass
            time.sleep(0.02)
        raise RuntimeError("soukd did not start")

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def rss(self):
        return rss_bytes(self.proc.pid)

    def metrics(self):
        out = {}
        for line in http("GET", self.base + "/metrics", timeout=30)[1].decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def push(self, user_ids, title="Summer sale"):
        st, body = http("POST", self.base + "/v1/push",
                        {"user_ids": user_ids,
                         "push": {"title": title, "body": "-30% on sneakers",
                                  "image_url": "https://shop.example/sale.png",
                                  "deep_link": "shop://sale"}},
                        {"Authorization": "Bearer " + self.app["api_key"]})
        if st != 202:
            raise RuntimeError("POST /v1/push: %s %s" % (st, body[:200]))
        return json.loads(body)

    def token(self, user):
        return subprocess.run([self.bins["soukctl"], "--data-dir", self.data, "token",
                               self.app["app_id"], user, "--ttl", "86400"],
                              capture_output=True, text=True, check=True,
                              timeout=60).stdout.strip()

    def stop(self):
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        else:
            rc = self.proc.returncode
        self.log.close()
        return rc


class Mosquitto:
    """Debian's mosquitto broker on a free loopback port, no persistence."""

    def __init__(self, binary, work):
        self.dir = os.path.join(work, "mosquitto")
        os.makedirs(self.dir, exist_ok=True)
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_connections -1\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                    % self.port)
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen(nofile_prefix() + [binary, "-c", conf],
                                     stdout=self.log, stderr=self.log)
        import socket as so
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited with %s" % self.proc.returncode)
            try:
                with so.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def rss(self):
        return rss_bytes(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Workers:
    """Several souk_loadgen processes splitting `users` between them; each binds its
    connections to its own range of 127.0.0.x source addresses."""

    def __init__(self, bins, proto, mode, users, nworkers, port, work, tag, app=None,
                 extra=(), prefix="u", timeout=120, lat=False):
        self.procs = []
        self.lat_files = []
        nworkers = max(1, min(nworkers, users))
        per, rest = divmod(users, nworkers)
        first = 0
        for k in range(nworkers):
            n = per + (1 if k < rest else 0)
            args = [bins["loadgen"], proto, mode, "--port", str(port), "--prefix", prefix,
                    "--first", str(first), "--users", str(n), "--src-base", str(2 + 40 * k),
                    "--src-count", "40", "--timeout", str(timeout)]
            if app:
                args += ["--app", app["app_id"], "--secret", app["jwt_secret"]]
            if lat:
                lf = os.path.join(work, "%s-%d.lat" % (tag, k))
                self.lat_files.append(lf)
                args += ["--lat-file", lf]
            args += [str(a) for a in extra]
            errf = open(os.path.join(work, "%s-%d.err" % (tag, k)), "ab")
            p = subprocess.Popen(nofile_prefix() + args, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=errf, text=True)
            p.errf = errf
            self.procs.append(p)
            first += n
        self.timeout = timeout

    def _line(self, p, tag):
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("loadgen exited (%s) before %s" % (p.wait(), tag))
        if not line.startswith(tag + " "):
            raise RuntimeError("loadgen said %r, expected %s" % (line, tag))
        return json.loads(line[len(tag) + 1:])

    def ready(self):
        out = [self._line(p, "READY") for p in self.procs]
        return {"ready": sum(r["ready"] for r in out), "failed": sum(r["failed"] for r in out),
                "devices": sum(r["devices"] for r in out),
                "setup_s": max(r["setup_s"] for r in out)}

    def tell(self, word):
        for p in self.procs:
            try:
                p.stdin.write(word + "\n")
                p.stdin.flush()
            except BrokenPipeError:
                pass

    def results(self, before_close=None):
        out = [self._line(p, "RESULT") for p in self.procs]
        if before_close:  # the generators are still there (their /proc entries)
            before_close(out)
        self.close()
        return out

    def latencies_us(self):
        v = array.array("I")
        for lf in self.lat_files:
            with open(lf, "rb") as f:
                v.frombytes(f.read())
        return sorted(v)

    def close(self):
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.errf.close()


def pct(sorted_v, q):
    if not sorted_v:
        return None
    return sorted_v[min(len(sorted_v) - 1, int(q * len(sorted_v)))]


def total(rs, key):
    return sum(r[key] for r in rs)


# ---- scenarios ---------------------------------------------------------------------------

def sc_idle(ctx):
    p, b, work = ctx["p"], ctx["bins"], ctx["work"]
    n = p["idle_conns"]
    s = Soukd(b, work, "idle")
    try:
        time.sleep(0.5)
        before = s.rss()
        w = Workers(b, "souk", "idle", n, p["workers"], s.port, work, "idle-souk", s.app,
                    timeout=p["timeout"])
        rd = w.ready()
        time.sleep(2)  # the storage thread finishes the devices' connect writes
        m = s.metrics()
        after = s.rss()
        w.tell("STOP")
        w.results()
        souk = {"connections": rd["ready"], "failed": rd["failed"], "setup_s": rd["setup_s"],
                "rss_before": before, "rss_after": after,
                "gauge_connections": m.get("souk_connections")}
    finally:
        s.stop()
    mq = Mosquitto(b["mosquitto"], work)
    try:
        time.sleep(0.5)
        mbefore = mq.rss()
        w = Workers(b, "mqtt", "idle", n, p["workers"], mq.port, work, "idle-mqtt",
                    prefix="idle", timeout=p["timeout"])
        mrd = w.ready()
        time.sleep(2)
        mafter = mq.rss()
        w.tell("STOP")
        w.results()
    finally:
        mq.stop()
    if rd["ready"] < n or mrd["ready"] < n:
        raise RuntimeError("idle: only %d souk / %d mqtt connections of %d"
                           % (rd["ready"], mrd["ready"], n))
    return {"idle_conn_bytes": round((after - before) / rd["ready"]),
            "mosquitto_idle_conn_bytes": round((mafter - mbefore) / mrd["ready"])}, {
        "souk": souk, "mosquitto": {"connections": mrd["ready"], "rss_before": mbefore,
                                    "rss_after": mafter, "setup_s": mrd["setup_s"]}}


def run_pairs(ctx, port, proto, app, rate, tag, lat):
    p = ctx["p"]
    npairs, nw = p["pairs"], max(1, min(p["workers"], p["pairs"]))
    # closed loop: `window` in flight per sender; open loop: the rate split evenly between
    # the workers (their pairs differ by one at most), with room for 64 in flight per sender
    extra = ["--window", p["window"] if rate == 0 else 64, "--rate", "%.3f" % (rate / nw),
             "--warmup", p["warmup"], "--duration", p["duration"], "--body-bytes", p["body"]]
    if proto == "souk" and os.environ.get("SOUK_BENCH_NO_ACK"):  # experiments only
        extra += ["--no-ack", 1]
    w = Workers(ctx["bins"], proto, "pair", npairs, nw, port, ctx["work"], tag, app,
                prefix="pair", timeout=p["timeout"], lat=lat, extra=extra)
    rd = w.ready()
    if rd["ready"] < 2 * npairs:
        w.tell("STOP")
        w.close()
        raise RuntimeError("%s: only %d of %d clients ready" % (tag, rd["ready"], 2 * npairs))
    return w


def finish_pairs(w, p, meter=None):
    cpu = {}
    rs = w.results(before_close=lambda rs: cpu.update(
        meter.per_msg_us(total(rs, "received")) or {}) if meter else None)
    d = {"sent": total(rs, "sent"), "acked": total(rs, "acked"),
         "acked_window": total(rs, "acked_window"),
         "received_window": total(rs, "received_window"), "received": total(rs, "received"),
         "errors": total(rs, "errors"), "backlogged": total(rs, "backlogged"),
         "measured_s": p["duration"]}
    d["received_per_s"] = d["received_window"] / p["duration"]
    d["acked_per_s"] = d["acked_window"] / p["duration"]
    if cpu:
        d["cpu_us_per_msg"] = cpu
    return d


def histogram_delta(m0, m1, name):
    """Per-bucket counts (not cumulative) of a Prometheus histogram between two scrapes."""
    out, prev = {}, 0.0
    keys = [k for k in m1 if k.startswith(name + "_bucket{")]
    keys.sort(key=lambda k: float(k.split('"')[1]) if "Inf" not in k else float("inf"))
    for k in keys:
        cum = m1[k] - m0.get(k, 0.0)
        out["le " + k.split('"')[1]] = int(cum - prev)
        prev = cum
    return out


def sc_durable(ctx):
    p, b, work = ctx["p"], ctx["bins"], ctx["work"]
    s = Soukd(b, work, "durable")
    det = ctx["det"]
    det.update({"pairs": p["pairs"], "clients": 2 * p["pairs"], "window_per_sender": p["window"],
                "body_bytes": p["body"]})
    try:
        # 1. saturation: every sender keeps `window` sends in flight (closed loop)
        w = run_pairs(ctx, s.port, "souk", s.app, 0, "durable-max", False)
        m0 = s.metrics()
        la = loadavg()
        meter = CpuMeter(s.proc.pid, w)
        w.tell("GO")
        mx = finish_pairs(w, p, meter)
        m1 = s.metrics()
        mx["load_average"] = la
        dn = m1["souk_commit_batch_size_count"] - m0["souk_commit_batch_size_count"]
        ds = m1["souk_commit_batch_size_sum"] - m0["souk_commit_batch_size_sum"]
        dt = m1["souk_commit_seconds_sum"] - m0["souk_commit_seconds_sum"]
        mx["commits"] = dn
        mx["commit_seconds_histogram"] = histogram_delta(m0, m1, "souk_commit_seconds")
        mx["commit_ms_mean"] = round(1000 * dt / dn, 3) if dn else None
        det["max"] = mx
        rate = mx["received_per_s"]
        frac = p["load_fraction"]  # the "half of the highest rate"
        det["soukd_exit"] = s.stop()
        # 2. half of that rate, open loop: latency send -> recipient's EventBatch, on a fresh
        # soukd like the saturation run (the cost per message grows with the database:
        # docs/performance.md). A run that could not sustain the rate (the machine is
        # shared) measured a growing queue, not latency: it is tried once more, and both
        # are kept in the details.
        s = Soukd(b, work, "durable-half")
        for attempt in (1, 2):
            w = run_pairs(ctx, s.port, "souk", s.app, rate * frac, "durable-half", True)
            m0 = s.metrics()
            half = {"load_average": loadavg()}
            w.tell("GO")
            half.update(finish_pairs(w, p))
            m1 = s.metrics()
            half["commit_seconds_histogram"] = histogram_delta(m0, m1, "souk_commit_seconds")
            half["commit_batch_histogram"] = histogram_delta(m0, m1,
                                                             "souk_commit_batch_size")
            lat = w.latencies_us()
            half["target_per_s"] = rate * frac
            half["latencies"] = len(lat)
            half["sustained"] = half["received_per_s"] >= 0.97 * half["target_per_s"]
            det["half" if attempt == 1 else "half_retry"] = half
            if half["sustained"] or ctx["smoke"]:
                break
    finally:
        det["soukd_half_exit"] = s.stop()
    mq = Mosquitto(b["mosquitto"], work)
    try:
        w = run_pairs(ctx, mq.port, "mqtt", None, 0, "mqtt-max", False)
        meter = CpuMeter(mq.proc.pid, w)
        w.tell("GO")
        mqd = finish_pairs(w, p, meter)
        det["mosquitto_max"] = mqd
        # the same open-loop rate as soukd's half-load run: latency at equal load
        w = run_pairs(ctx, mq.port, "mqtt", None, rate * frac, "mqtt-half", True)
        w.tell("GO")
        mqh = finish_pairs(w, p)
        mlat = w.latencies_us()
        mqh["target_per_s"] = rate * frac
        mqh["e2e_p50_ms"] = round(pct(mlat, 0.50) / 1000, 3) if mlat else None
        mqh["e2e_p99_ms"] = round(pct(mlat, 0.99) / 1000, 3) if mlat else None
        det["mosquitto_same_rate"] = mqh
    finally:
        mq.stop()
    if not lat or mx["received_window"] == 0 or mqd["received_window"] == 0:
        raise RuntimeError("durable: nothing was measured")
    return {"durable_msgs_per_s": round(rate, 1),
            "mosquitto_qos1_msgs_per_s": round(mqd["received_per_s"], 1),
            "e2e_p50_ms": round(pct(lat, 0.50) / 1000, 3),
            "e2e_p99_ms": round(pct(lat, 0.99) / 1000, 3),
            "commit_batch_mean": round(ds / dn, 2) if dn else None}, det


def sc_fanout(ctx):
    p, b, work = ctx["p"], ctx["bins"], ctx["work"]
    s = Soukd(b, work, "fanout")
    det = ctx["det"]
    try:
        # stored: one push for users that are all offline (never connected)
        ids = ["off%d" % i for i in range(p["fanout_stored"])]
        t0 = time.monotonic()
        r = s.push(ids)
        stored_s = time.monotonic() - t0
        det["stored"] = {"users": len(ids), "answer": r, "seconds": stored_s}
        if r.get("stored") != len(ids):
            raise RuntimeError("push stored %s of %d" % (r.get("stored"), len(ids)))
        # online: devices live, then one push to exactly those users
        n = p["fanout_online"]
        w = Workers(b, "souk", "fanout", n, p["workers"], s.port, work, "fanout", s.app,
                    prefix="on", timeout=p["timeout"])
        rd = w.ready()
        w.tell("GO")
        t0_ms = time.time() * 1000
        t0 = time.monotonic()
        r = s.push(["on%d" % i for i in range(n)], title="Flash sale")
        post_s = time.monotonic() - t0
        rs = w.results()
        done = total(rs, "done")
        last = max(x["last_done_ms"] for x in rs)
        det["online"] = {"devices": rd["ready"], "received": done, "post_s": post_s,
                         "answer": r, "first_ms_after_post_start":
                         min(x["first_done_ms"] for x in rs) - t0_ms if done else None}
        if done < n:
            raise RuntimeError("fanout: %d of %d devices received the push" % (done, n))
    finally:
        det["soukd_exit"] = s.stop()
    return {"fanout_100k_stored_s": round(stored_s, 3),
            "fanout_online_10k_s": round((last - t0_ms) / 1000, 3)}, det


def sc_storm(ctx):
    p, b, work = ctx["p"], ctx["bins"], ctx["work"]
    n, behind = p["storm_devices"], p["storm_behind"]
    s = Soukd(b, work, "storm")
    det = ctx["det"]
    det.update({"devices": n, "behind": behind})
    try:
        # the devices are known to the server: each connected once (and was caught up)
        w = Workers(b, "souk", "idle", n, p["workers"], s.port, work, "storm-reg", s.app,
                    prefix="st", timeout=p["timeout"])
        rd = w.ready()
        w.tell("STOP")
        w.results()
        if rd["ready"] < n:
            raise RuntimeError("storm: only %d of %d devices registered" % (rd["ready"], n))
        # while they are away, every user's stream gets `behind` events
        ids = ["st%d" % i for i in range(n)]
        t0 = time.monotonic()
        for k in range(behind):
            s.push(ids, title="Offer %d" % k)
        det["fill_s"] = time.monotonic() - t0
        time.sleep(1)
        # everyone reconnects at once and syncs from where they were
        w = Workers(b, "souk", "storm", n, p["workers"], s.port, work, "storm", s.app,
                    prefix="st", timeout=p["timeout"], extra=["--after", 0])
        w.ready()
        det["load_average"] = loadavg()
        w.tell("GO")
        rs = w.results()
        done = total(rs, "done")
        go = min(x["go_ms"] for x in rs)
        last = max(x["last_done_ms"] for x in rs)
        det.update({"caught_up": done, "failed": total(rs, "failed"),
                    "retries": total(rs, "retries"), "errors": total(rs, "errors"),
                    "last_error_codes": sorted({x["last_error"] for x in rs}),
                    "errors_by_class_1xx_5xx": [sum(x["errors_by_class"][i] for x in rs)
                                                for i in range(5)],
                    "peer_closes": {k: sum(x["peer_closes"][k] for x in rs)
                                    for k in ("4408", "4429", "4409", "other")},
                    "worker_s": [x["go_to_last_done_s"] for x in rs]})
        if done < n:
            raise RuntimeError("storm: %d of %d devices caught up" % (done, n))
    finally:
        det["soukd_exit"] = s.stop()
    return {"reconnect_storm_s": round((last - go) / 1000, 3)}, det


def sdkbench(ctx, *args):
    r = subprocess.run([ctx["bins"]["sdkbench"], *[str(a) for a in args]], capture_output=True,
                       text=True, timeout=ctx["p"]["timeout"] * 2)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError("sdkbench %s failed (%s): %s" % (args[0], r.returncode, r.stderr[-800:]))


SDK_REPEATS = 5


def sc_sdk(ctx):
    p, b, work = ctx["p"], ctx["bins"], ctx["work"]
    d = os.path.join(work, "sdk")
    os.makedirs(d)
    det = ctx["det"]
    det["send"] = sdkbench(ctx, "send", d, p["sdk_sends"])
    # A sync of 10,000 messages and the raw inserts each take 0.1-0.3 s, so one scheduling
    # hiccup on a shared machine moves either by 10 % or more: both run SDK_REPEATS times,
    # alternating, each in a fresh directory, and the figures are the medians (every run is
    # in the details).
    raws, syncs = [], []

    def fresh(tag, i):
        x = os.path.join(d, "%s%d" % (tag, i))
        os.makedirs(x)
        return x
    s = Soukd(b, work, "sdk-server")
    try:
        m = p["sdk_sync"]
        w = Workers(b, "souk", "fill", 1, 1, s.port, work, "sdk-fill", s.app, prefix="sdk",
                    timeout=p["timeout"], extra=["--per-user", m, "--window", 64])
        rs = w.results()
        if rs[0]["acked"] < m:
            raise RuntimeError("sdk: filled %d of %d messages" % (rs[0]["acked"], m))
        url = "ws://127.0.0.1:%d/v1/ws" % s.port
        tok = s.token("sdk0")
        for i in range(SDK_REPEATS):
            raws.append(sdkbench(ctx, "raw", fresh("raw", i), p["raw_rows"], p["raw_batch"]))
            syncs.append(sdkbench(ctx, "sync", fresh("sync", i), url, s.app["app_id"], tok, m))
    finally:
        det["soukd_exit"] = s.stop()
    det["raw_runs"], det["sync_runs"] = raws, syncs

    def median(runs, key):
        v = sorted(r[key] for r in runs)
        return v[len(v) // 2]
    det["raw"] = {"sqlcipher_raw_rows_per_s": median(raws, "sqlcipher_raw_rows_per_s"),
                  "cpu_us_per_row": median(raws, "cpu_us_per_row")}
    det["sync"] = {"sdk_sync_msgs_per_s": median(syncs, "sdk_sync_msgs_per_s"),
                   "cpu_us_per_msg": median(syncs, "cpu_us_per_msg")}
    return {"sdk_send_us_p50": det["send"]["sdk_send_us_p50"],
            "sdk_sync_msgs_per_s": det["sync"]["sdk_sync_msgs_per_s"],
            "sqlcipher_raw_rows_per_s": det["raw"]["sqlcipher_raw_rows_per_s"]}, det


def sc_size(ctx):
    lib = os.path.realpath(ctx["bins"]["libsouk"])
    tmp = os.path.join(ctx["work"], "libsouk.stripped.so")
    shutil.copy(lib, tmp)
    subprocess.run(["strip", "--strip-all", tmp], check=True)
    deps = {}
    out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            name = parts[0]
            if name.startswith(("libc.so", "libm.so", "ld-linux", "linux-vdso")):
                continue
            deps[name] = os.path.getsize(os.path.realpath(parts[2]))
    return {"libsouk_stripped_bytes": os.path.getsize(tmp)}, {
        "unstripped_bytes": os.path.getsize(lib), "libsouk_dependencies": deps,
        "dependencies_total_bytes": sum(deps.values())}


RUNNERS = {"idle": sc_idle, "durable": sc_durable, "fanout": sc_fanout, "storm": sc_storm,
           "sdk": sc_sdk, "size": sc_size}


# ---- build, machine, main ----------------------------------------------------------------

def build(build_dir):
    log("building in", build_dir)
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    "-DSOUK_BUILD_SAMPLES=OFF", "-DSOUK_BUILD_BENCH=ON"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2", "--target", "soukd", "soukctl",
                    "souk", "souk_loadgen", "souk_sdkbench"], check=True,
                   stdout=subprocess.DEVNULL)
    return {"soukd": os.path.join(build_dir, "server", "soukd"),
            "soukctl": os.path.join(build_dir, "server", "soukctl"),
            "loadgen": os.path.join(build_dir, "bench", "souk_loadgen"),
            "sdkbench": os.path.join(build_dir, "bench", "souk_sdkbench"),
            "libsouk": os.path.join(build_dir, "sdk", "libsouk.so")}


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "memory_bytes": mem, "kernel": os.uname().release,
            "cpu": cpu}


def fsync_probe(work, seconds):
    """This disk's rate of 4 KiB append + fdatasync, right now: the durable path's other
    limit (fsync rate × operations per group commit)."""
    path = os.path.join(work, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lat, block = [], b"\0" * 4096
    t_end = time.monotonic() + seconds
    try:
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            os.write(fd, block)
            os.fdatasync(fd)
            lat.append(time.monotonic() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    return {"fdatasync_per_s": round(len(lat) / seconds, 1),
            "p50_ms": round(1000 * pct(lat, 0.5), 3), "p99_ms": round(1000 * pct(lat, 0.99), 3)}


def git_rev():
    def g(*a):
        r = subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    st = g("status", "--porcelain", "--untracked-files=no")
    return g("rev-parse", "HEAD"), bool(st)


TARGETS = {
    "idle_conn_bytes": "< 2,048 (issue)",
    "durable_msgs_per_s": ">= mosquitto_qos1_msgs_per_s (issue)",
    "e2e_p99_ms": "< 50 (issue)",
    "sdk_sync_msgs_per_s": ">= sqlcipher_raw_rows_per_s / 2 (issue)",
}


def table(path):
    """A Markdown table of a results file (for docs/performance.md)."""
    d = json.load(open(path))
    rows = ["| figure | value | target / compare with | load average before |",
            "|---|---|---|---|"]
    for scen, figs in FIG_OF.items():
        la = d.get("details", {}).get(scen, {}).get("load_average_before")
        for f in figs:
            v = d.get(f)
            v = "{:,}".format(v) if isinstance(v, (int, float)) else "—"
            rows.append("| `%s` | %s | %s | %s |" % (f, v, TARGETS.get(f, ""),
                                                    " / ".join(map(str, la or []))))
    return "\n".join(rows)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        print(table(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny counts, seconds (ctest)")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " +
                    ",".join(SCENARIOS))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use --soukd ... as given")
    for k in ("soukd", "soukctl", "loadgen", "sdkbench", "libsouk", "mosquitto"):
        ap.add_argument("--" + k)
    ap.add_argument("--out", help="JSON file (default bench/results/latest.json; smoke: none)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a count of the run (e.g. storm_devices=2000); such a "
                    "run is not the benchmark")
    ap.add_argument("--wait-quiet", type=float, default=0,
                    help="wait up to this many seconds for a quiet machine (--quiet-below)")
    ap.add_argument("--quiet-below", type=float, default=0.5,
                    help="the 1-minute load average that counts as quiet (default 0.5)")
    a = ap.parse_args()

    p = dict(SMOKE if a.smoke else FULL)
    for kv in a.set:
        k, _, v = kv.partition("=")
        if k not in p:
            ap.error("unknown parameter %s (one of %s)" % (k, ", ".join(sorted(p))))
        p[k] = type(p[k])(v)
    only = [x for x in a.only.split(",") if x] or SCENARIOS
    for x in only:
        if x not in RUNNERS:
            ap.error("unknown scenario %s" % x)
    bins = {} if a.no_build else build(a.build_dir)
    for k in ("soukd", "soukctl", "loadgen", "sdkbench", "libsouk", "mosquitto"):
        if getattr(a, k):
            bins[k] = getattr(a, k)
    bins.setdefault("mosquitto", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    missing = [k for k in ("soukd", "soukctl", "loadgen", "sdkbench", "libsouk", "mosquitto")
               if not bins.get(k) or not os.path.exists(bins[k])]
    if missing:
        ap.error("missing binaries: %s" % ", ".join(missing))

    if a.wait_quiet:
        deadline = time.time() + a.wait_quiet
        while os.getloadavg()[0] >= a.quiet_below and time.time() < deadline:
            time.sleep(10)
    rev, dirty = git_rev()
    work = tempfile.mkdtemp(prefix="souk-bench-")
    res = {"smoke": a.smoke, "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] +
                                                   sys.argv[1:]),
           "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git_revision": rev,
           "git_dirty": dirty, "machine": machine(), "parameters": p,
           "soukd_config": SOUKD_CONFIG, "load_average": {"start": loadavg()},
           "details": {}, "errors": {}}
    ctx = {"p": p, "bins": bins, "work": work, "smoke": a.smoke}
    res["machine"]["fsync_probe"] = fsync_probe(work, 0.5 if a.smoke else 3)
    for name in only:
        log("scenario", name, "(load average %s)" % loadavg())
        t0 = time.monotonic()
        ctx["det"] = det = {"load_average_before": loadavg()}
        c0 = cpu_times()
        try:
            figs, det = RUNNERS[name](ctx)
            res.update(figs)
        except Exception as e:  # record and go on: one broken scenario keeps the others
            log("scenario", name, "failed:", repr(e))
            res["errors"][name] = repr(e)
        det["load_average_before"] = ctx["det"]["load_average_before"]
        det["scenario_s"] = round(time.monotonic() - t0, 2)
        det["machine_cpu_percent"] = cpu_split(c0, cpu_times())
        res["details"][name] = det
    res["load_average"]["end"] = loadavg()
    expected = [f for s in only for f in FIG_OF[s]]
    res["figures_missing"] = [f for f in expected if not isinstance(res.get(f), (int, float))]
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        res["work_dir"] = work
    text = json.dumps(res, indent=2, sort_keys=False)
    print(text)
    out = a.out or (None if a.smoke else os.path.join(ROOT, "bench", "results", "latest.json"))
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text + "\n")
    if res["errors"] or res["figures_missing"]:
        log("missing figures:", res["figures_missing"], "errors:", res["errors"])
        return 1
    return 0


FIG_OF = {
    "idle": ["idle_conn_bytes", "mosquitto_idle_conn_bytes"],
    "durable": ["durable_msgs_per_s", "mosquitto_qos1_msgs_per_s", "e2e_p50_ms", "e2e_p99_ms",
                "commit_batch_mean"],
    "fanout": ["fanout_100k_stored_s", "fanout_online_10k_s"],
    "storm": ["reconnect_storm_s"],
    "sdk": ["sdk_send_us_p50", "sdk_sync_msgs_per_s", "sqlcipher_raw_rows_per_s"],
    "size": ["libsouk_stripped_bytes"],
}

if __name__ == "__main__":
    sys.exit(main())
