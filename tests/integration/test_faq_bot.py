"""samples/faq-bot against a real soukd: a shopper's questions answered by the bot from the
shipped knowledge base, once each; a request for a person hands the conversation to the
desk (a real webhook receiver); redeliveries never produce a second answer (not even after
a bot restart); tampered, replayed and wrongly signed deliveries are refused with 401.

Environment (set by ctest): FAQ_BOT, the bot binary, besides what souk_harness needs.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from agent_harness import Receiver, Rest
from souk_harness import Client, Server, pb

FAQ_BOT = os.environ.get("FAQ_BOT", "")
KB_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples",
                       "faq-bot", "kb.json")
FAST = {"send_rate_per_s": 10000, "send_burst": 10000}

with open(KB_PATH) as f:
    KB = json.load(f)
INTENT = {i["id"]: i for i in KB["intents"]}


def sign(secret, msg_id, ts, body):
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def text_of(content):
    """What a shopper reads: the text, or the prompt of quick replies."""
    if "text" in content:
        return content["text"]["body"]
    if "quick_replies" in content:
        return content["quick_replies"]["prompt"]
    return content.get("fallback_text")


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


class Bot:
    """One real faq-bot process, stopped with SIGTERM: it must exit 0, sanitizer-clean."""

    def __init__(self, server, api_key, secrets_=(), port=0, register=None, kb=KB_PATH,
                 secret_file=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="faq-bot-it-")
        self.port_file = os.path.join(self.dir, "port")
        self.out_path = os.path.join(self.dir, "stdout")
        self.log_path = os.path.join(self.dir, "bot.log")
        args = [FAQ_BOT, "--soukd", "http://127.0.0.1:%d" % server.port, "--api-key", api_key,
                "--listen", "127.0.0.1:%d" % port, "--port-file", self.port_file,
                "--kb", kb, "--integration", "bot", "--log-level", "debug"]
        for s in secrets_:
            args += ["--secret", s]
        if secret_file:
            args += ["--secret-file", secret_file]
        if register:
            args += ["--register", register]
        args += list(extra)
        self.out = open(self.out_path, "wb")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.log)
        deadline = time.time() + 20
        self.port = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("faq-bot exited with %s:\n%s"
                                   % (self.proc.returncode, self.read_log()))
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    txt = f.read().strip()
                if txt:
                    self.port = int(txt)
                    break
            time.sleep(0.02)
        if not self.port:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("faq-bot did not start:\n" + self.read_log())
        self.registration = None
        if register:
            with open(self.out_path) as f:
                self.registration = json.loads(f.readline())

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def sighup(self, marker):
        """SIGHUP (reload the kb and the secret file); waits for one more marker line."""
        before = self.read_log().count(marker)
        self.proc.send_signal(signal.SIGHUP)
        if not wait_for(lambda: self.read_log().count(marker) > before):
            raise AssertionError("no %r after SIGHUP:\n%s" % (marker, self.read_log()))

    def post(self, body, headers):
        req = urllib.request.Request("http://127.0.0.1:%d/hook" % self.port, data=body,
                                     method="POST")
        req.add_header("Content-Type", "application/json")
        for k, v in headers.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def deliver(self, secret, body, msg_id=None, ts=None, signature=None):
        """POSTs body as soukd would, signed with secret (or with the given signature)."""
        msg_id = msg_id or "evt_" + secrets.token_hex(12)
        ts = str(int(time.time()) if ts is None else ts)
        sig = signature if signature is not None else sign(secret, msg_id, ts, body)
        return self.post(body, {"webhook-id": msg_id, "webhook-timestamp": ts,
                                "webhook-signature": sig})

    def close(self):
        if getattr(self, "closed", False):
            return
        self.closed = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
        else:
            rc = self.proc.returncode
        self.out.close()
        self.log.close()
        log = self.read_log()
        bad = [m for m in ("Sanitizer", "runtime error:") if m in log]
        if bad or rc != 0:
            raise AssertionError("faq-bot exit %s, %s in its log:\n%s" % (rc, bad, log[-4000:]))
        if not os.environ.get("SOUK_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def message_event(app_id, conv_id, text, user="alice"):
    """A message.created body shaped like soukd's (docs/webhooks.md)."""
    now = int(time.time() * 1000)
    return json.dumps({"type": "message.created", "timestamp": "2026-11-22T07:00:00.000Z",
                       "data": {"app_id": app_id,
                                "conversation": {"id": conv_id, "user_id": user,
                                                 "status": "open", "controller": "bot",
                                                 "assignee": "", "last_conv_seq": 1,
                                                 "created_ms": now,
                                                 "participants": [{"id": user,
                                                                   "kind": "shopper"}]},
                                "message": {"id": "msg_" + secrets.token_hex(8),
                                            "conversation_id": conv_id, "conv_seq": 1,
                                            "sender": {"id": user, "kind": "shopper",
                                                       "device_id": "phone"},
                                            "content": {"fallback_text": text,
                                                        "text": {"body": text}},
                                            "created_ms": now}}}).encode()


@unittest.skipUnless(FAQ_BOT and os.path.exists(FAQ_BOT), "FAQ_BOT (the faq-bot binary) not set")
class FaqBotTest(unittest.TestCase):
    def setUp(self):
        # cleanups, not tearDown: whatever started is stopped even when setUp fails midway
        self.clients = []
        self.s = Server(config=FAST, apps=2)
        self.addCleanup(self.s.close)
        self.s.start()
        self.api = Rest(self.s, self.s.app["api_key"])
        st, j = self.api.call("PATCH", "/v1/app", {"default_integration": "bot"})
        self.assertEqual(st, 200, j)
        self.desk = Receiver()
        self.addCleanup(self.desk.stop)
        st, j = self.api.call("POST", "/v1/webhooks", {"url": self.desk.url, "integration": "desk"})
        self.assertEqual(st, 201, j)
        # the bot on a free port, with an editable copy of the shipped kb and a secret file
        # that receives the secret once its target is registered (then SIGHUP)
        self.dir = tempfile.mkdtemp(prefix="faq-bot-it-files-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.kb_path = os.path.join(self.dir, "kb.json")
        shutil.copy(KB_PATH, self.kb_path)
        self.secret_file = os.path.join(self.dir, "secrets")
        open(self.secret_file, "w").close()
        self.bot = Bot(self.s, self.s.app["api_key"], port=0, kb=self.kb_path,
                       secret_file=self.secret_file)
        self.addCleanup(lambda: self.bot.close())  # the bot of the moment (tests restart it)
        self.addCleanup(lambda: [c.close() for c in self.clients])
        st, j = self.api.call("POST", "/v1/webhooks",
                              {"url": "http://127.0.0.1:%d/hook" % self.bot.port,
                               "integration": "bot"})
        self.assertEqual(st, 201, j)
        self.bot_webhook = j["webhook"]
        self.secret = j["webhook"]["secret"]
        self.set_secrets(self.secret)

    def set_secrets(self, *secrets_):
        with open(self.secret_file, "w") as f:
            f.write("# the bot's webhook target\n" + "\n".join(secrets_) + "\n")
        self.bot.sighup("secrets reloaded")

    def shopper(self, user="alice"):
        c = Client(self.s)
        self.clients.append(c)
        c.evlog, c.pos = [], 0
        c.login(user, device="phone")
        c.sync()
        conv = c.open_support()
        return c, conv

    def history(self, conv_id):
        st, j = self.api.call("GET", "/v1/conversations/%s/messages?limit=200" % conv_id)
        self.assertEqual(st, 200, j)
        return j["messages"]

    def bot_texts(self, conv_id):
        return [text_of(m["content"]) for m in self.history(conv_id)
                if m["sender"]["kind"] == "bot"]

    @staticmethod
    def pull(c, deadline):
        """Reads one batch of live events into c.evlog."""
        f = c.recv_until(lambda x: x.WhichOneof("body") == "events",
                         timeout=max(0.1, deadline - time.time()))
        c.evlog.extend(f.events.events)

    def next_bot_message(self, c, timeout=20):
        """The next message from the bot on the shopper's device (every event is kept in
        c.evlog, so that waiting for one kind loses none of the others)."""
        deadline = time.time() + timeout
        while True:
            while c.pos < len(c.evlog):
                e = c.evlog[c.pos]
                c.pos += 1
                if e.WhichOneof("body") == "message" and e.message.sender_kind == pb.SENDER_BOT:
                    return e.message
            self.pull(c, deadline)

    def wait_controller(self, c, name, timeout=20):
        deadline = time.time() + timeout
        while not any(e.WhichOneof("body") == "conversation" and e.conversation.controller == name
                      for e in c.evlog):
            self.pull(c, deadline)

    @staticmethod
    def shown(m):
        k = m.content.WhichOneof("kind")
        return m.content.text.body if k == "text" else m.content.quick_replies.prompt

    def test_answers_from_the_kb_and_hands_off_to_the_desk(self):
        c, conv = self.shopper()
        cid = conv.conversation_id
        self.assertEqual(conv.controller, "bot")
        hello = self.next_bot_message(c)
        self.assertEqual(hello.content.WhichOneof("kind"), "quick_replies")
        self.assertEqual(self.shown(hello), KB["greeting"]["text"])
        titles = [r.title for r in hello.content.quick_replies.replies]
        self.assertIn("Track my order", titles)
        self.assertIn("Talk to a person", titles)
        self.assertEqual(hello.sender_name, KB["bot"]["name"])

        c.send_text(cid, "where is my order?")
        m = self.next_bot_message(c)
        self.assertEqual(m.sender_kind, pb.SENDER_BOT)
        self.assertEqual(self.shown(m), INTENT["order_status"]["text"])
        self.assertIn("Talk to a person", [r.title for r in m.content.quick_replies.replies])

        c.send_text(cid, "what is your return policy")
        self.assertEqual(self.shown(self.next_bot_message(c)), INTENT["returns"]["text"])

        c.send_text(cid, "I want to talk to a person")
        self.assertEqual(self.shown(self.next_bot_message(c)), KB["handoff"]["text"])
        self.wait_controller(c, "desk")
        self.assertTrue(self.desk.wait(lambda r: r.unique("conversation.handoff")))
        h = self.desk.unique("conversation.handoff")[0]["data"]
        self.assertEqual((h["from"], h["to"], h["reason"]),
                         ("bot", "desk", KB["handoff"]["reason"]))

        # the next message goes to the desk, and the bot stays quiet
        c.send_text(cid, "my parcel arrived damaged")
        self.assertTrue(self.desk.wait(lambda r: r.unique("message.created")))
        self.assertEqual([j["data"]["message"]["content"]["text"]["body"]
                          for j in self.desk.unique("message.created")],
                         ["my parcel arrived damaged"])
        time.sleep(1.0)
        # each answer exactly once, in order, and nothing after the handoff
        self.assertEqual(self.bot_texts(cid), [KB["greeting"]["text"],
                                               INTENT["order_status"]["text"],
                                               INTENT["returns"]["text"],
                                               KB["handoff"]["text"]])
        kinds = [m["sender"]["kind"] for m in self.history(cid)]
        self.assertEqual(kinds, ["bot", "shopper", "bot", "shopper", "bot", "shopper", "bot",
                                 "shopper"])

    def test_unknown_question_is_handed_off(self):
        c, conv = self.shopper("bob")
        self.next_bot_message(c)
        c.send_text(conv.conversation_id, "can I pay with a voucher from 1998?")
        self.assertEqual(self.shown(self.next_bot_message(c)), KB["fallback"]["text"])
        self.assertTrue(self.desk.wait(lambda r: r.unique("conversation.handoff")))
        self.assertEqual(self.desk.unique("conversation.handoff")[0]["data"]["reason"],
                         KB["fallback"]["reason"])
        # tapping the quick reply "Talk to a person" is a request for a person too
        c2, conv2 = self.shopper("carol")
        self.next_bot_message(c2)
        c2.send_text(conv2.conversation_id, "Talk to a person")
        self.assertEqual(self.shown(self.next_bot_message(c2)), KB["handoff"]["text"])
        self.assertTrue(self.desk.wait(lambda r: len(r.unique("conversation.handoff")) == 2))

    def test_redelivery_produces_no_second_answer(self):
        c, conv = self.shopper()
        cid = conv.conversation_id
        self.next_bot_message(c)
        body = message_event(self.s.app["app_id"], cid, "is there a size guide?")
        msg_id, ts = "evt_redeliver_" + secrets.token_hex(6), int(time.time())
        st, j = self.bot.deliver(self.secret, body, msg_id, ts)
        self.assertEqual((st, j), (200, {"status": "answered"}))
        st, j = self.bot.deliver(self.secret, body, msg_id, ts)
        self.assertEqual((st, j), (200, {"status": "duplicate"}))
        self.assertEqual(self.shown(self.next_bot_message(c)), INTENT["sizes"]["text"])
        # a restarted bot has forgotten the id; the Idempotency-Key still holds (this one
        # takes its secret from the command line)
        self.bot.close()
        self.bot = Bot(self.s, self.s.app["api_key"], [self.secret], kb=self.kb_path,
                       extra=["--dedup-size", "2"])
        st, j = self.bot.deliver(self.secret, body, msg_id, ts)
        self.assertEqual((st, j), (200, {"status": "answered"}))
        time.sleep(0.5)
        self.assertEqual(self.bot_texts(cid), [KB["greeting"]["text"], INTENT["sizes"]["text"]])
        # the id memory is a bounded LRU: ids pushed out are answered again, once (the
        # Idempotency-Key), the recent ones are recognised
        others = []
        for q in ("how much is shipping", "can I return shoes"):
            b = message_event(self.s.app["app_id"], cid, q)
            i = "evt_" + secrets.token_hex(8)
            self.assertEqual(self.bot.deliver(self.secret, b, i, ts)[1], {"status": "answered"})
            others.append((b, i))
        self.assertEqual(self.bot.deliver(self.secret, body, msg_id, ts)[1],
                         {"status": "answered"})  # evicted: REST calls again
        self.assertEqual(self.bot.deliver(self.secret, others[1][0], others[1][1], ts)[1],
                         {"status": "duplicate"})
        time.sleep(0.5)
        self.assertEqual(self.bot_texts(cid), [KB["greeting"]["text"], INTENT["sizes"]["text"],
                                               INTENT["shipping"]["text"],
                                               INTENT["returns"]["text"]])

    def test_forged_deliveries_are_refused(self):
        c, conv = self.shopper()
        cid = conv.conversation_id
        self.next_bot_message(c)
        body = message_event(self.s.app["app_id"], cid, "where is my order?")
        other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        now = int(time.time())

        def refused(st_j, words):
            st, j = st_j
            self.assertEqual(st, 401, j)
            self.assertIn(words, j["error"])

        msg_id = "evt_" + secrets.token_hex(12)
        good = sign(self.secret, msg_id, now, body)
        tampered = body.replace(b"where is my order?", b"where is my refund")
        refused(self.bot.deliver(None, tampered, msg_id, now, good), "signature")
        refused(self.bot.deliver(self.secret, body, ts=now - 600), "timestamp")
        refused(self.bot.deliver(self.secret, body, ts=now + 600), "timestamp")
        refused(self.bot.deliver(other, body), "signature")
        refused(self.bot.deliver(None, body, msg_id, now, "v1,abc"), "signature")
        refused(self.bot.deliver(None, body, msg_id, now, "v2," + good[3:]), "signature")
        refused(self.bot.deliver(self.secret, body, ts="12x"), "timestamp")
        refused(self.bot.post(body, {}), "webhook-id")
        refused(self.bot.post(body, {"webhook-id": msg_id, "webhook-timestamp": str(now)}),
                "webhook-signature")
        # the same signed delivery under another id does not verify either
        refused(self.bot.deliver(None, body, "evt_other", now, good), "signature")
        # signed but not an event: 400
        st, j = self.bot.deliver(self.secret, b"{not json")
        self.assertEqual(st, 400, j)
        st, j = self.bot.deliver(self.secret, b"[1,2]")
        self.assertEqual(st, 400, j)
        # nothing of this reached the shopper
        time.sleep(0.5)
        self.assertEqual(self.bot_texts(cid), [KB["greeting"]["text"]])
        # and the genuine one, late but within the window, is answered
        st, j = self.bot.deliver(None, body, msg_id, now, good)
        self.assertEqual((st, j), (200, {"status": "answered"}))
        self.assertEqual(self.shown(self.next_bot_message(c)), INTENT["order_status"]["text"])

    def test_secret_rotation_without_restart(self):
        wid = self.bot_webhook["id"]
        st, j = self.api.call("POST", "/v1/webhooks/%s/rotate-secret" % wid)
        self.assertEqual(st, 200, j)
        new = j["secret"]
        self.set_secrets(new, self.secret)
        # soukd now signs with both; the bot answers
        c, conv = self.shopper()
        self.assertEqual(self.shown(self.next_bot_message(c)), KB["greeting"]["text"])
        body = message_event(self.s.app["app_id"], conv.conversation_id, "shipping costs?")
        st, j = self.bot.deliver(self.secret, body)  # the previous secret alone
        self.assertEqual(st, 200, j)
        st, j = self.bot.deliver(new, body)  # the new one alone
        self.assertEqual(st, 200, j)
        self.assertEqual(self.bot.deliver("whsec_" + base64.b64encode(b"x" * 32).decode(),
                                          body)[0], 401)
        self.assertEqual(self.bot_texts(conv.conversation_id),
                         [KB["greeting"]["text"], INTENT["shipping"]["text"],
                          INTENT["shipping"]["text"]])
        # the previous secret retired: deliveries signed with it alone are refused
        self.set_secrets(new)
        st, j = self.bot.deliver(self.secret, body)
        self.assertEqual(st, 401, j)
        self.assertEqual(self.bot.deliver(new, body)[0], 200)
        # a broken secret file changes nothing
        with open(self.secret_file, "w") as f:
            f.write("whsec_not base64\n")
        self.bot.sighup("secrets not reloaded")
        self.assertEqual(self.bot.deliver(new, body)[0], 200)

    def test_register_auto_on_another_app(self):
        app2 = self.s.apps[1]
        api2 = Rest(self.s, app2["api_key"])
        self.assertEqual(api2.call("PATCH", "/v1/app", {"default_integration": "bot"})[0], 200)
        bot2 = Bot(self.s, app2["api_key"], register="auto")
        try:
            reg = bot2.registration
            self.assertTrue(reg["secret"].startswith("whsec_"))
            self.assertEqual(reg["url"], "http://127.0.0.1:%d/hook" % bot2.port)
            st, j = api2.call("GET", "/v1/webhooks")
            self.assertEqual([(w["id"], w["integration"]) for w in j["webhooks"]],
                             [(reg["webhook_id"], "bot")])
            c = Client(self.s)
            self.clients.append(c)
            c.evlog, c.pos = [], 0
            c.login("dave", device="phone", app=app2)
            c.sync()
            conv = c.open_support()
            self.assertEqual(self.shown(self.next_bot_message(c)), KB["greeting"]["text"])
            c.send_text(conv.conversation_id, "Do you ship to Switzerland?")
            self.assertEqual(self.shown(self.next_bot_message(c)), INTENT["shipping"]["text"])
        finally:
            bot2.close()

    def test_edited_kb_is_reloaded_on_sighup(self):
        kb_path = self.kb_path
        c, conv = self.shopper()
        self.next_bot_message(c)
        edited = json.loads(json.dumps(KB))
        edited["intents"].append({"id": "gift_cards", "keywords": ["gift card*", "voucher*"],
                                  "text": "Gift cards come in 25, 50 and 100 EUR."})
        with open(kb_path, "w") as f:
            json.dump(edited, f)
        self.bot.sighup("knowledge base reloaded")
        c.send_text(conv.conversation_id, "Do you sell gift cards?")
        self.assertEqual(self.shown(self.next_bot_message(c)),
                         "Gift cards come in 25, 50 and 100 EUR.")
        # a broken edit is refused and the previous kb stays in use
        with open(kb_path, "w") as f:
            f.write('{"bot": {"id": "faq-bot"}, "intents": [')
        self.bot.sighup("knowledge base not reloaded")
        c.send_text(conv.conversation_id, "a voucher please")
        self.assertEqual(self.shown(self.next_bot_message(c)),
                         "Gift cards come in 25, 50 and 100 EUR.")

    def test_soukd_unreachable_asks_for_a_redelivery(self):
        c, conv = self.shopper()
        self.next_bot_message(c)
        body = message_event(self.s.app["app_id"], conv.conversation_id, "where is my order?")
        msg_id, ts = "evt_" + secrets.token_hex(8), int(time.time())
        # a bot whose soukd URL leads nowhere: 503, so that soukd redelivers later
        s2 = Server()
        lost = Bot(s2, "sk_nothing", [self.secret], kb=self.kb_path)  # s2 never started
        try:
            st, j = lost.deliver(self.secret, body, msg_id, ts)
            self.assertEqual(st, 503, j)
            self.assertIn("connect", j["error"])
            st, j = lost.deliver(self.secret, body, msg_id, ts)  # not remembered as done
            self.assertEqual(st, 503, j)
        finally:
            lost.close()
            s2.close()
        # the redelivery to a bot that reaches soukd is answered
        self.assertEqual(self.bot.deliver(self.secret, body, msg_id, ts)[1],
                         {"status": "answered"})
        self.assertEqual(self.shown(self.next_bot_message(c)), INTENT["order_status"]["text"])

    def test_bot_links_neither_sqlite_nor_sqlcipher(self):
        out = subprocess.run(["ldd", FAQ_BOT], capture_output=True, text=True).stdout
        self.assertIn("libwebsockets", out)
        self.assertNotIn("sqlite", out.lower())
        self.assertNotIn("sqlcipher", out.lower())


if __name__ == "__main__":
    unittest.main()
