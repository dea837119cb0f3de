"""Limits and hostile frames over real sockets: each gets its documented error or close
code, and the server keeps serving other clients with their messages intact."""
import socket
import time
import unittest
import uuid

from souk_harness import Client, Closed, Server, E, pb


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(config={
            "max_message_bytes": 200,
            "auth_timeout_ms": 500,
            "send_rate_per_s": 5,
            "send_burst": 5,
            "max_connections_per_user": 3,
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def bystander(self, user):
        c = Client(self.s)
        c.login(user)
        c.sync()
        conv = c.open_support()
        return c, conv

    def assert_still_served(self, c, conv):
        ack = c.send_text(conv.conversation_id, "still served")
        self.assertEqual(ack.WhichOneof("body"), "send_ack", ack)

    def test_oversized_frame_closes_that_connection_only(self):
        ok, conv = self.bystander("by-oversize")
        c = Client(self.s)
        c.login("big")
        c.send_raw(b"\x00" * (64 * 1024 + 1))
        code, errors = c.expect_close()
        self.assertEqual(code, 4413)
        self.assertEqual(errors[0].code, E.FRAME_TOO_LARGE)
        self.assert_still_served(ok, conv)

    def test_oversized_frame_in_fragments(self):
        c = Client(self.s)
        c.login("big2")
        import websocket
        chunk = b"\x0a" * 20000
        c.ws.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, chunk))
        for _ in range(3):
            c.ws.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, chunk))
        code, errors = c.expect_close()
        # the server closes with 4413 while the client is still sending the rest of the
        # message, so TCP may reset the connection before the close frame is read; the
        # error frame always arrives first
        self.assertIn(code, (4413, None))
        self.assertEqual(errors[0].code, E.FRAME_TOO_LARGE)

    def test_fragmented_valid_frame_is_reassembled(self):
        import websocket
        c = Client(self.s)
        c.login("frag")
        c.sync()
        conv = c.open_support()
        f = pb.Frame()
        f.request_id = 77
        f.send.client_msg_id = uuid.uuid4().bytes
        f.send.conversation_id = conv.conversation_id
        f.send.content.text.body = "in pieces"
        data = f.SerializeToString()
        parts = [data[i:i + 3] for i in range(0, len(data), 3)]
        c.ws.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, parts[0]))
        for i, p in enumerate(parts[1:]):
            fin = 1 if i == len(parts) - 2 else 0
            c.ws.send_frame(websocket.ABNF(fin, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, p))
        r = c.recv_until(lambda x: x.request_id == 77)
        self.assertEqual(r.WhichOneof("body"), "send_ack")

    def test_malformed_frames(self):
        ok, conv = self.bystander("by-malformed")
        cases = [
            b"\xff\xff\xff",                      # not protobuf
            b"\x0a\xff\xff\xff\xff\x0f",          # huge declared length
            b"\x82\x01\x80\x80\x80\x80\x08",      # send with a 2 GiB declared length
            b"",                                  # empty
        ]
        for raw in cases:
            c = Client(self.s)
            c.login("mal")
            c.send_raw(raw)
            code, errors = c.expect_close()
            self.assertEqual(code, 4400, raw)
            self.assertEqual(errors[0].code, E.BAD_FRAME, raw)
            c.close()
        self.assert_still_served(ok, conv)

    def test_text_message_is_a_protocol_error(self):
        c = Client(self.s)
        c.login("txt")
        c.send_raw("hello", binary=False)
        code, errors = c.expect_close()
        self.assertEqual(code, 4400)
        self.assertEqual(errors[0].code, E.BAD_FRAME)

    def test_server_only_frame_from_client(self):
        c = Client(self.s)
        c.login("srv")
        f = pb.Frame()
        f.welcome.user_id = "x"
        c.send(f)
        code, errors = c.expect_close()
        self.assertEqual(code, 4400)
        self.assertEqual(errors[0].code, E.UNEXPECTED_FRAME)

    def test_invalid_utf8_refuses_the_send_and_keeps_the_connection(self):
        c, conv = self.bystander("utf8")
        # build a Send whose text body is invalid UTF-8 (protobuf python refuses to, so by hand)
        f = pb.Frame()
        f.request_id = 9
        cmid = uuid.uuid4().bytes
        f.send.client_msg_id = cmid
        f.send.conversation_id = conv.conversation_id
        f.send.content.text.body = "AAAA"
        raw = f.SerializeToString().replace(b"AAAA", b"\xc3\x28\xa0\xa1")
        c.send_raw(raw)
        r = c.recv_until(lambda x: x.request_id == 9)
        self.assertEqual(r.error.code, E.INVALID_FIELD)
        self.assertEqual(r.error.client_msg_id, cmid)
        self.assertTrue(r.error.permanent)
        self.assert_still_served(c, conv)

    def test_missing_and_wrong_fields(self):
        c, conv = self.bystander("fields")
        f = pb.Frame()
        f.send.client_msg_id = b"short"
        f.send.conversation_id = conv.conversation_id
        f.send.content.text.body = "x"
        rid = c.send(f)
        self.assertEqual(c.recv_until(lambda x: x.request_id == rid).error.code, E.INVALID_FIELD)
        f = pb.Frame()
        f.send.client_msg_id = uuid.uuid4().bytes
        f.send.conversation_id = conv.conversation_id
        rid = c.send(f)
        self.assertEqual(c.recv_until(lambda x: x.request_id == rid).error.code, E.MISSING_FIELD)
        f = pb.Frame()
        f.send.client_msg_id = uuid.uuid4().bytes
        f.send.conversation_id = conv.conversation_id
        f.send.content.fallback_text = "no kind"
        rid = c.send(f)
        self.assertEqual(c.recv_until(lambda x: x.request_id == rid).error.code, E.INVALID_CONTENT)
        # a frame with an unknown field number is fine (ignored)
        f = pb.Frame()
        f.ping.client_time_ms = 5
        rid = c.send(f)
        c.send_raw(f.SerializeToString() + b"\xf8\x07\x01")  # field 127 varint 1
        self.assertEqual(c.recv_until(lambda x: x.request_id == rid).WhichOneof("body"), "pong")

    def test_message_over_the_configured_limit_is_permanently_refused(self):
        c, conv = self.bystander("toolong")
        cmid = uuid.uuid4().bytes
        r = c.send_text(conv.conversation_id, "x" * 500, cmid=cmid)
        self.assertEqual(r.error.code, E.MESSAGE_TOO_LARGE)
        self.assertTrue(r.error.permanent)
        self.assertEqual(r.error.client_msg_id, cmid)
        self.assert_still_served(c, conv)

    def test_welcome_announces_limits(self):
        c = Client(self.s)
        w = c.login("lim")
        self.assertEqual(w.limits.max_message_bytes, 200)
        self.assertEqual(w.limits.max_frame_bytes, 65536)

    def test_auth_timeout(self):
        c = Client(self.s)
        t0 = time.time()
        code, errors = c.expect_close(timeout=10)
        self.assertEqual(code, 4408)
        self.assertEqual(errors[0].code, E.AUTH_REQUIRED)

    def test_hello_waiting_on_the_server_is_not_timed_out(self):
        """The auth timeout is for clients that send no hello: a hello that arrived but
        waits for the store (here held by another writer for 3x auth_timeout_ms) is
        answered with a welcome once the store is free, not closed with 4408."""
        import os
        import sqlite3
        c = Client(self.s)
        token = self.s.token("patient")
        db = sqlite3.connect(os.path.join(self.s.data, "souk.db"), timeout=10,
                             isolation_level=None)
        db.execute("BEGIN IMMEDIATE")  # soukd's writes wait (its busy_timeout is 10 s)
        try:
            f = pb.Frame()
            f.hello.protocol_version = 1
            f.hello.app_id = self.s.app["app_id"]
            f.hello.token = token
            f.hello.device_id = "held"
            f.hello.platform = pb.PLATFORM_DESKTOP
            c.send(f)
            time.sleep(1.5)  # auth_timeout_ms is 500
        finally:
            db.execute("ROLLBACK")
            db.close()
        r = c.recv(timeout=10)
        self.assertEqual(r.WhichOneof("body"), "welcome", r)
        self.assertEqual(r.welcome.user_id, "patient")

    def test_rate_limit(self):
        c, conv = self.bystander("flood")
        results = []
        rids = [c.send_text(conv.conversation_id, "f%d" % i, wait=False)[0] for i in range(20)]
        for rid in rids:
            results.append(c.recv_until(lambda x, rid=rid: x.request_id == rid))
        acks = [r for r in results if r.WhichOneof("body") == "send_ack"]
        limited = [r for r in results if r.WhichOneof("body") == "error"]
        self.assertGreaterEqual(len(acks), 5)
        self.assertTrue(limited)
        for r in limited:
            self.assertEqual(r.error.code, E.RATE_LIMITED)
            self.assertFalse(r.error.permanent)
            self.assertGreater(r.error.retry_after_ms, 0)
        # another user is not limited by this one's flood
        other, oconv = self.bystander("calm")
        self.assert_still_served(other, oconv)

    def test_connections_per_user(self):
        cs = []
        for i in range(3):
            c = Client(self.s)
            c.login("many", device="d%d" % i)
            cs.append(c)
        c = Client(self.s)
        r = c.hello(self.s.token("many"), device="d4")
        self.assertEqual(r.error.code, E.TOO_MANY_CONNECTIONS)
        self.assertEqual(c.expect_close()[0], 4429)
        cs[0].close()
        time.sleep(0.3)
        c = Client(self.s)
        c.login("many", device="d5")

    def test_wrong_path_or_subprotocol_is_refused(self):
        import websocket
        for kw in ({"path": "/other"}, {"subprotocols": None}, {"subprotocols": ("chat",)}):
            with self.assertRaises((websocket.WebSocketException, ConnectionError, Closed)):
                c = Client(self.s, **kw)
                c.hello(self.s.token("x"))

    def test_unauthenticated_flood_is_closed_and_others_served(self):
        ok, conv = self.bystander("by-flood")
        idle = [Client(self.s) for _ in range(200)]
        self.assert_still_served(ok, conv)
        codes = [c.expect_close(timeout=15)[0] for c in idle]
        self.assertEqual(set(codes), {4408})
        for c in idle:
            c.close()
        self.assert_still_served(ok, conv)


class SlowReaderTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 1000000, "send_burst": 1000000,
                                "send_queue_max_frames": 256,
                                "send_queue_max_bytes": 262144}).start()

    def tearDown(self):
        self.s.close()

    def test_slow_reader_is_disconnected_and_others_unaffected(self):
        n = 3000
        slow = Client(self.s, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
        slow.login("shopper", device="slow")
        slow.sync()
        fast = Client(self.s)
        fast.login("shopper", device="fast")
        fast.sync()
        sender = Client(self.s)
        sender.login("shopper", device="sender")
        sender.sync()
        conv = sender.open_support()
        import threading
        got = []
        reader = threading.Thread(target=lambda: got.extend(fast.events(n + 1, timeout=120)))
        reader.start()
        body = "y" * 3000
        for chunk in range(0, n, 50):
            # the sender is a device of the same user: it reads between chunks so that it
            # is not the slow consumer itself
            rids = [sender.send_text(conv.conversation_id, body, wait=False)[0]
                    for _ in range(50)]
            for rid in rids:
                r = sender.recv_until(lambda x, rid=rid: x.request_id == rid, timeout=60)
                self.assertEqual(r.WhichOneof("body"), "send_ack")
            sender.pending = [f for f in sender.pending if f.WhichOneof("body") != "events"]
        # the fast device (reading all along) gets every event, once, in order
        reader.join()
        self.assertEqual([e.seq for e in got], list(range(1, n + 2)))
        m = self.s.metrics()
        self.assertGreaterEqual(m["souk_slow_consumer_disconnects_total"], 1)
        # the slow one finds a 4409 close after what it had buffered
        code, _ = slow.expect_close(timeout=60)
        self.assertEqual(code, 4409)
        # and catches up by sync on a new connection, with nothing missing
        again = Client(self.s)
        again.login("shopper", device="slow")
        evs = again.sync()
        self.assertEqual([e.seq for e in evs], list(range(1, n + 2)))


class HeaderTablesTest(unittest.TestCase):
    """http_header_tables bounds the handshakes and HTTP requests parsed at once: the ones
    beyond it wait their turn and are all served, also while clients hold tables with
    headers they never finish."""

    def setUp(self):
        self.s = Server(config={"http_header_tables": 4}).start()

    def tearDown(self):
        self.s.close()

    def hold_tables(self, n):
        """n clients that each hold a table: a request line and headers with no end."""
        slow = []
        for _ in range(n):
            so = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
            so.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n")
            slow.append(so)
        return slow

    def test_handshakes_and_requests_beyond_the_tables_wait_and_are_served(self):
        import threading
        slow = self.hold_tables(3)  # three of the four
        tokens = {u: self.s.token(u) for u in ("hs-%d" % i for i in range(60))}
        welcomes, statuses, errors = [], [], []

        def login(user):
            try:
                c = Client(self.s)
                w = c.hello(tokens[user], device="d")
                welcomes.append(w.WhichOneof("body"))
                c.close()
            except Exception as e:  # recorded, asserted below
                errors.append(repr(e))

        def health():
            statuses.append(self.s.healthz())

        threads = [threading.Thread(target=login, args=(u,)) for u in tokens]
        threads += [threading.Thread(target=health) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(welcomes, ["welcome"] * 60)
        self.assertEqual(statuses, [200] * 30)
        for so in slow:
            so.close()

    def test_the_bound_holds_and_a_freed_table_serves_the_next_in_line(self):
        import threading
        slow = self.hold_tables(4)
        time.sleep(0.3)  # the server has read them: every table is held
        done = threading.Event()
        out = []

        def login():
            try:
                c = Client(self.s)
                out.append(c.login("in-line").user_id)
                c.close()
            except Exception as e:
                out.append(repr(e))
            done.set()

        t = threading.Thread(target=login)
        t.start()
        self.assertFalse(done.wait(1.0), "handshake served although every table was held")
        slow.pop().close()
        self.assertTrue(done.wait(10), "a freed table did not serve the waiting handshake")
        t.join()
        self.assertEqual(out, ["in-line"])
        for so in slow:
            so.close()


if __name__ == "__main__":
    unittest.main()
