"""Hostile input against a running soukd: malformed, nested and mistyped frames, floods,
and tenant isolation over the WebSocket operations. Every attack gets its documented
error or close code, memory stays bounded, and other clients keep being served."""
import os
import time
import unittest
import uuid

from agent_harness import Receiver, Rest
from souk_harness import Client, Server, E, pb


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class HostileFramesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={"send_rate_per_s": 50, "send_burst": 50}).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def victim(self, user):
        c = Client(self.s)
        c.login(user)
        c.sync()
        return c, c.open_support()

    def attack(self, raw):
        c = Client(self.s)
        c.login("attacker-%s" % uuid.uuid4().hex[:6])
        c.send_raw(raw)
        code, errors = c.expect_close()
        c.close()
        return code, errors

    def test_malformed_nested_and_mistyped_frames(self):
        ok, conv = self.victim("bystander")
        cases = {
            # Frame.send (13) encoded as a varint instead of a message
            "wrong wire type": b"\x68\x01",
            # 10,000 nested unknown groups (start-group wire type 3)
            "deep groups": b"\xfb\x3f" * 10000 + b"\xfc\x3f" * 10000,
            # length-delimited unknown field nesting 2,000 levels deep
            "deep lengths": None,
            # truncated: a send whose declared length runs past the end
            "truncated": b"\x6a\x20\x0a\x10" + b"x" * 8,
            # a declared length of 2^63
            "huge length": b"\x6a\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
        }
        inner = b""
        for _ in range(2000):
            inner = b"\xfa\x3f" + bytes([len(inner) & 0x7f | (0x80 if len(inner) > 127 else 0)]) + (
                bytes([len(inner) >> 7]) if len(inner) > 127 else b"") + inner
            if len(inner) > 60000:
                break
        cases["deep lengths"] = inner
        for name, raw in cases.items():
            code, errors = self.attack(raw)
            # decodable-but-meaningless frames are BAD_FRAME; nothing crashes
            self.assertIn(code, (4400, None), name)
            if errors:
                self.assertIn(errors[0].code, (E.BAD_FRAME, E.INVALID_FIELD), name)
        ack = ok.send_text(conv.conversation_id, "after the attacks")
        self.assertEqual(ack.WhichOneof("body"), "send_ack")

    @unittest.skipIf(os.environ.get("SOUK_SANITIZED"),
                     "AddressSanitizer's quarantine keeps freed memory resident; leaks are "
                     "checked by LeakSanitizer at soukd's exit instead")
    def test_memory_stays_bounded_under_hostile_traffic(self):
        pid = self.s.proc.pid
        ok, conv = self.victim("mem-bystander")
        before = rss_kb(pid)
        for i in range(300):
            c = Client(self.s)
            c.login("m%d" % (i % 5), device="d%d" % i)
            # the largest legal frame full of empty quick replies: decode-budget stress
            c.send_raw(b"\x6a" + b"\xff\xff\x03" + b"\x1a" * 10 + b"\x00" * 65000)
            c.close()
        idle = [Client(self.s) for _ in range(100)]  # unauthenticated, then closed
        for c in idle:
            c.close()
        time.sleep(0.5)
        after = rss_kb(pid)
        # a generous bound: leaking 64 KiB per hostile frame would be ~19 MB
        self.assertLess(after - before, 16 * 1024, (before, after))
        self.assertEqual(ok.send_text(conv.conversation_id, "fine").WhichOneof("body"),
                         "send_ack")

    def test_per_user_send_flood_is_limited_and_others_are_served(self):
        flood, conv = self.victim("flooder")
        other, oconv = self.victim("calm-user")
        rids = [flood.send_text(conv.conversation_id, "f", wait=False)[0] for _ in range(300)]
        codes = []
        for rid in rids:
            r = flood.recv_until(lambda x, rid=rid: x.request_id == rid, timeout=30)
            codes.append(r.WhichOneof("body") == "send_ack" or r.error.code)
        limited = [c for c in codes if c is not True]
        self.assertTrue(limited)
        self.assertEqual(set(limited), {E.RATE_LIMITED})
        self.assertEqual(other.send_text(oconv.conversation_id, "hi").WhichOneof("body"),
                         "send_ack")


class TenantIsolationTest(unittest.TestCase):
    """An identity of app A aimed at app B's users and conversations is refused and causes
    no delivery and no webhook."""

    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 1000, "send_burst": 1000}, apps=2).start()
        self.a, self.b = self.s.apps
        self.rx_b = Receiver()
        st, _ = Rest(self.s, self.b["api_key"]).call("POST", "/v1/webhooks", {"url": self.rx_b.url})
        self.assertEqual(st, 201)

    def tearDown(self):
        self.rx_b.stop()
        self.s.close()

    def test_every_websocket_operation_is_refused_across_apps(self):
        # the same user id exists in both apps: they are different users
        bob = Client(self.s)
        bob.login("alice", device="b-phone", app=self.b)
        bob.sync()
        bconv = bob.open_support()
        self.assertTrue(self.rx_b.wait(lambda r: r.unique("conversation.created")))
        mallory = Client(self.s)
        mallory.login("alice", device="a-phone", app=self.a)
        mallory.sync()
        cid = bconv.conversation_id

        r = mallory.send_text(cid, "cross-app")
        self.assertEqual(r.error.code, E.CONVERSATION_NOT_FOUND)
        ops = []
        f = pb.Frame()
        f.open_conversation.conversation_id = cid
        ops.append(f)
        f = pb.Frame()
        f.mark_read.conversation_id = cid
        f.mark_read.up_to_conv_seq = 1
        ops.append(f)
        f = pb.Frame()
        f.update_context.conversation_id = cid
        f.update_context.context.attributes["x"] = "y"
        ops.append(f)
        f = pb.Frame()
        f.typing.conversation_id = cid
        f.typing.on = True
        ops.append(f)
        for f in ops:
            rid = mallory.send(f)
            r = mallory.recv_until(lambda x, rid=rid: x.request_id == rid)
            self.assertEqual(r.WhichOneof("body"), "error", f)
            self.assertEqual(r.error.code, E.CONVERSATION_NOT_FOUND, f)
        # app A's alice has her own, separate stream and conversation
        mine = mallory.open_support()
        self.assertNotEqual(mine.conversation_id, cid)
        # nothing reached app B's user or its webhook target
        bob.send_text(cid, "only mine")
        evs = bob.events(2)
        self.assertEqual([e.WhichOneof("body") for e in evs], ["conversation", "message"])
        self.assertEqual(evs[1].message.content.text.body, "only mine")
        for fr in bob.pending:
            self.assertNotEqual(fr.WhichOneof("body"), "typing")
        self.assertTrue(self.rx_b.wait(lambda r: r.unique("message.created")))
        time.sleep(0.3)
        types = [j["type"] for j in self.rx_b.unique(None)]
        self.assertEqual(types, ["conversation.created", "message.created"])

    def test_token_of_app_a_cannot_open_a_session_in_app_b(self):
        c = Client(self.s)
        r = c.hello(self.s.token("alice", app=self.a), app=self.b)
        self.assertEqual(r.error.code, E.TOKEN_INVALID)
        self.assertEqual(c.expect_close()[0], 4401)


if __name__ == "__main__":
    unittest.main()
