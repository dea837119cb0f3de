"""Harness for soukd integration tests: real soukd processes on free 127.0.0.1 ports,
real WebSocket clients speaking souk.v1 (Debian's python3-websocket + python3-protobuf).

Environment (set by ctest): SOUKD, SOUKCTL (binaries), PYTHONPATH including the
generated souk/v1/souk_pb2.py.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
import warnings

import websocket

from souk.v1 import souk_pb2 as pb

warnings.simplefilter("ignore", ResourceWarning)

SOUKD = os.environ.get("SOUKD", "soukd")
SOUKCTL = os.environ.get("SOUKCTL", "soukctl")
E = pb.ErrorCode


class Server:
    """One soukd on a fresh data dir. Restartable on the same port and data."""

    def __init__(self, config=None, apps=1):
        self.dir = tempfile.mkdtemp(prefix="souk-it-")
        self.data = os.path.join(self.dir, "data")
        self.config = dict(config or {})
        self.proc = None
        self.port = 0
        self.log = open(os.path.join(self.dir, "soukd.log"), "ab")
        self.apps = [self.create_app("app%d" % i) for i in range(apps)]
        self.app = self.apps[0]

    def ctl(self, *args, check=True):
        r = subprocess.run([SOUKCTL, "--data-dir", self.data, *args],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError("soukctl %s failed: %s" % (args, r.stderr))
        return r

    def create_app(self, name, *extra):
        return json.loads(self.ctl("app", "create", name, "--json", *extra).stdout)

    def token(self, user, app=None, ttl=3600):
        app = app or self.app
        return self.ctl("token", app["app_id"], user, "--ttl", str(ttl)).stdout.strip()

    def start(self):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        cfg = os.path.join(self.dir, "soukd.json")
        with open(cfg, "w") as f:
            json.dump(self.config, f)
        self.proc = subprocess.Popen(
            [SOUKD, "--data-dir", self.data, "--listen", "127.0.0.1:%d" % self.port,
             "--config", cfg, "--port-file", port_file, "--log-level", "debug"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("soukd exited with %s; log %s" % (self.proc.returncode, self.dir))
            if os.path.exists(port_file):
                with open(port_file) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    if self.healthz() == 200:
                        return self
            time.sleep(0.02)
        raise RuntimeError("soukd did not start")

    def healthz(self):
        scheme = "https" if self.config.get("tls_cert") else "http"
        ctx = None
        if scheme == "https":
            import ssl
            ctx = ssl.create_default_context(cafile=self.config["tls_cert"])
        try:
            with urllib.request.urlopen("%s://127.0.0.1:%d/healthz" % (scheme, self.port),
                                        timeout=2, context=ctx) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=5) as r:
            out = {}
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    k, v = line.rsplit(" ", 1)
                    out[k] = float(v)
            return out

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                return self.proc.wait(timeout=30)
        return None

    def restart(self):
        self.kill(signal.SIGKILL)
        return self.start()

    def close(self):
        """Stops soukd with SIGTERM and checks that it drained and exited cleanly: exit code
        0 and no sanitizer report in its log (under -DSOUK_SANITIZE this makes every
        integration test a leak and undefined-behaviour check of the server)."""
        rc = self.kill(signal.SIGTERM) if self.proc and self.proc.poll() is None else None
        self.log.close()
        with open(os.path.join(self.dir, "soukd.log"), errors="replace") as f:
            log = f.read()
        bad = [m for m in ("Sanitizer", "runtime error:") if m in log]
        keep = os.environ.get("SOUK_KEEP_TEST_DIRS")
        if not keep and not bad and rc in (0, None):
            shutil.rmtree(self.dir, ignore_errors=True)
        if bad or rc not in (0, None):
            raise AssertionError("soukd exit %s, %s in its log:\n%s" % (rc, bad, log[-4000:]))

    @property
    def url(self):
        return "ws://127.0.0.1:%d/v1/ws" % self.port


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__("closed %s %s" % (code, reason))
        self.code = code
        self.reason = reason


class Client:
    """A souk.v1 WebSocket client. recv() returns Frames; a close raises Closed."""

    def __init__(self, server, path="/v1/ws", subprotocols=("souk.v1",), sockopt=()):
        self.server = server
        self.ws = websocket.WebSocket(sockopt=sockopt)
        self.ws.connect("ws://127.0.0.1:%d%s" % (server.port, path),
                        subprotocols=list(subprotocols) if subprotocols else None,
                        timeout=10)
        self.rid = 0
        self.pending = []
        self.user_id = None
        self.head_seq = 0

    def send_raw(self, data, binary=True):
        self.ws.send(data, opcode=websocket.ABNF.OPCODE_BINARY if binary
                     else websocket.ABNF.OPCODE_TEXT)

    def send(self, frame):
        if frame.request_id == 0:
            self.rid += 1
            frame.request_id = self.rid
        self.send_raw(frame.SerializeToString())
        return frame.request_id

    def recv(self, timeout=10):
        if self.pending:
            return self.pending.pop(0)
        self.ws.settimeout(timeout)
        while True:
            op, data = self.ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                raise Closed(code, data[2:].decode(errors="replace"))
            if op == websocket.ABNF.OPCODE_BINARY:
                f = pb.Frame()
                f.ParseFromString(data)
                return f

    def recv_until(self, pred, timeout=10):
        """Returns the first frame matching pred; others are kept for later recv()."""
        deadline = time.time() + timeout
        skipped = []
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no matching frame")
                f = self.recv(timeout=left)
                if pred(f):
                    return f
                skipped.append(f)
        finally:
            self.pending = skipped + self.pending

    def expect_close(self, timeout=10):
        """Reads until the server closes; returns (close code, error frames seen)."""
        errors = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                f = self.recv(timeout=max(0.1, deadline - time.time()))
            except Closed as c:
                return c.code, errors
            except (websocket.WebSocketConnectionClosedException, OSError):
                # reset before the close frame could be read (the peer was still sending)
                return None, errors
            if f.WhichOneof("body") == "error":
                errors.append(f.error)
        raise TimeoutError("server did not close")

    def hello(self, token, device="dev-1", last_applied=0, app=None, version=1):
        f = pb.Frame()
        f.hello.protocol_version = version
        f.hello.app_id = (app or self.server.app)["app_id"]
        f.hello.token = token
        f.hello.device_id = device
        f.hello.platform = pb.PLATFORM_DESKTOP
        f.hello.sdk_version = "itest"
        f.hello.last_applied_seq = last_applied
        self.send(f)
        return self.recv()

    def login(self, user, device="dev-1", last_applied=0, app=None):
        r = self.hello(self.server.token(user, app=app), device, last_applied, app=app)
        assert r.WhichOneof("body") == "welcome", r
        self.user_id = r.welcome.user_id
        self.head_seq = r.welcome.head_seq
        return r.welcome

    def sync(self, after=0, limit=0):
        """Pages until has_more is false; returns the events (the connection is then live)."""
        events = []
        while True:
            f = pb.Frame()
            f.sync_request.after_seq = after
            f.sync_request.limit = limit
            rid = self.send(f)
            page = self.recv_until(lambda x: x.request_id == rid)
            assert page.WhichOneof("body") == "sync_page", page
            events.extend(page.sync_page.events)
            if page.sync_page.events:
                after = page.sync_page.events[-1].seq
            if not page.sync_page.has_more:
                return events

    def open_support(self):
        f = pb.Frame()
        f.open_conversation.kind = pb.CONVERSATION_SUPPORT
        rid = self.send(f)
        r = self.recv_until(lambda x: x.request_id == rid)
        assert r.WhichOneof("body") == "conversation", r
        return r.conversation

    def send_text(self, conv_id, text, cmid=None, wait=True):
        f = pb.Frame()
        f.send.client_msg_id = cmid or uuid.uuid4().bytes
        f.send.conversation_id = conv_id
        f.send.content.text.body = text
        rid = self.send(f)
        if not wait:
            return rid, f.send.client_msg_id
        return self.recv_until(lambda x: x.request_id == rid)

    def events(self, n, timeout=10):
        """Collects n live-pushed events (EventBatch frames)."""
        out = []
        deadline = time.time() + timeout
        while len(out) < n:
            f = self.recv_until(lambda x: x.WhichOneof("body") == "events",
                                timeout=max(0.1, deadline - time.time()))
            out.extend(f.events.events)
        return out

    def ack(self, seq):
        f = pb.Frame()
        f.ack.seq = seq
        self.send(f)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
