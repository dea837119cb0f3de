"""A real HTTP webhook receiver for the agent-backend tests, and a small REST client."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.request


def verify(secret, headers, body, tolerance=300):
    """Standard Webhooks verification; returns True when one signature matches."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or abs(time.time() - int(ts)) > tolerance:
        return False
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    want = base64.b64encode(hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body,
                                     hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in sigs.split())


class Receiver:
    """Records every POST. mode: 'ok', 'fail' (500), 'slow' (sleeps `delay` then 200)."""

    def __init__(self, port=0):
        self.requests = []  # (headers dict, body bytes, parsed json)
        self.mode = "ok"
        self.delay = 0
        self.fail_left = 0
        self.lock = threading.Lock()
        self.port = port
        self.httpd = None
        self.start()

    def start(self):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length", 0))
                body = self.rfile.read(n)
                with outer.lock:
                    mode, delay = outer.mode, outer.delay
                    if outer.fail_left > 0:
                        outer.fail_left -= 1
                        mode = "fail"
                if mode == "slow":
                    time.sleep(delay)
                with outer.lock:
                    outer.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                           body, json.loads(body)))
                code = 500 if mode == "fail" else 200
                self.send_response(code)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def events(self, type_=None):
        with self.lock:
            return [(h, b, j) for h, b, j in self.requests if not type_ or j["type"] == type_]

    def wait(self, pred, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred(self):
                return True
            time.sleep(0.05)
        return False

    def unique(self, type_):
        """Events of a type deduplicated by webhook-id (what a receiver would process)."""
        seen, out = set(), []
        for h, b, j in self.events(type_):
            if h["webhook-id"] not in seen:
                seen.add(h["webhook-id"])
                out.append(j)
        return out


class Rest:
    def __init__(self, server, api_key):
        self.base = "http://127.0.0.1:%d" % server.port
        self.key = api_key

    def call(self, method, path, body=None, headers=None, key="default", raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        k = self.key if key == "default" else key
        if k:
            req.add_header("Authorization", "Bearer " + k)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for h, v in (headers or {}).items():
            req.add_header(h, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                txt = r.read()
                return r.status, (json.loads(txt) if txt else None)
        except urllib.error.HTTPError as e:
            txt = e.read()
            return e.code, (json.loads(txt) if txt else None)
