"""Delivery over real sockets: ack after commit, fan-out to the user's other devices,
duplicate sends stored once, reconnect with a cursor, read receipts, typing."""
import unittest
import uuid

from souk_harness import Client, Server, E, pb


class DeliveryTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 10000, "send_burst": 10000}).start()

    def tearDown(self):
        self.s.close()

    def device(self, user, name, last=0, sync=True):
        c = Client(self.s)
        c.login(user, device=name, last_applied=last)
        if sync:
            c.synced = c.sync(after=last)
        return c

    def test_send_ack_then_delivered_to_second_device(self):
        a = self.device("alice", "phone")
        b = self.device("alice", "tablet")
        conv = a.open_support()
        self.assertTrue(conv.created)
        self.assertEqual(conv.kind, pb.CONVERSATION_SUPPORT)
        self.assertEqual([p.user_id for p in conv.participants], ["alice"])
        # both devices get the conversation-created event (seq 1)
        ev_b = b.events(1)
        self.assertEqual(ev_b[0].WhichOneof("body"), "conversation")
        self.assertEqual(ev_b[0].conversation.kind, pb.CONVERSATION_SUPPORT)
        self.assertEqual(ev_b[0].seq, 1)

        cmid = uuid.uuid4().bytes
        ack = a.send_text(conv.conversation_id, "hello shop", cmid=cmid)
        self.assertEqual(ack.WhichOneof("body"), "send_ack", ack)
        self.assertEqual(ack.send_ack.client_msg_id, cmid)
        self.assertEqual(ack.send_ack.seq, 2)
        self.assertEqual(ack.send_ack.conv_seq, 1)
        self.assertFalse(ack.send_ack.duplicate)
        self.assertTrue(ack.send_ack.message_id.startswith("msg_"))

        got = b.events(1)
        self.assertEqual(len(got), 1)
        m = got[0].message
        self.assertEqual(got[0].seq, 2)
        self.assertEqual(m.message_id, ack.send_ack.message_id)
        self.assertEqual(m.client_msg_id, cmid)
        self.assertEqual(m.content.text.body, "hello shop")
        self.assertEqual(m.sender_id, "alice")
        self.assertEqual(m.sender_device_id, "phone")
        self.assertEqual(m.sender_kind, pb.SENDER_SHOPPER)
        # the sender's own device receives its message as an event too (other views)
        mine = a.events(2)
        self.assertEqual([e.seq for e in mine], [1, 2])
        a.close()
        b.close()

    def test_open_support_twice_returns_the_same_conversation(self):
        a = self.device("alice", "phone")
        c1 = a.open_support()
        c2 = a.open_support()
        self.assertEqual(c1.conversation_id, c2.conversation_id)
        self.assertTrue(c1.created)
        self.assertFalse(c2.created)
        other = self.device("bob", "phone")
        self.assertNotEqual(other.open_support().conversation_id, c1.conversation_id)

    def test_duplicate_send_is_stored_once(self):
        a = self.device("alice", "phone")
        b = self.device("alice", "tablet")
        conv = a.open_support()
        b.events(1)
        cmid = uuid.uuid4().bytes
        first = a.send_text(conv.conversation_id, "once", cmid=cmid).send_ack
        again = a.send_text(conv.conversation_id, "once", cmid=cmid).send_ack
        self.assertTrue(again.duplicate)
        self.assertEqual((again.message_id, again.seq, again.conv_seq, again.server_time_ms),
                         (first.message_id, first.seq, first.conv_seq, first.server_time_ms))
        # a retry from another connection (after a reconnect) is deduplicated as well
        a.close()
        a2 = self.device("alice", "phone", last=first.seq)
        third = a2.send_text(conv.conversation_id, "once", cmid=cmid).send_ack
        self.assertTrue(third.duplicate)
        self.assertEqual(third.seq, first.seq)
        nxt = a2.send_text(conv.conversation_id, "next").send_ack
        self.assertEqual(nxt.seq, first.seq + 1)  # nothing was appended by the retries
        got = b.events(2)
        self.assertEqual([e.message.content.text.body for e in got], ["once", "next"])
        fresh = self.device("alice", "laptop")
        msgs = [e for e in fresh.synced if e.WhichOneof("body") == "message"]
        self.assertEqual([m.message.content.text.body for m in msgs], ["once", "next"])

    def test_reconnect_with_cursor_gets_exactly_the_missing_events(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        acks = [a.send_text(conv.conversation_id, "m%d" % i).send_ack for i in range(30)]
        b = self.device("alice", "tablet", last=0)
        self.assertEqual([e.seq for e in b.synced], list(range(1, 32)))
        b.ack(10)
        b.close()
        for i in range(30, 40):
            a.send_text(conv.conversation_id, "m%d" % i)
        b = self.device("alice", "tablet", last=10)
        seqs = [e.seq for e in b.synced]
        self.assertEqual(seqs, list(range(11, 42)))
        self.assertEqual(b.synced[-1].message.content.text.body, "m39")
        # live afterwards: the next message comes once, as the next seq
        a.send_text(conv.conversation_id, "live")
        live = b.events(1)
        self.assertEqual(live[0].seq, 42)
        self.assertEqual(acks[0].seq, 2)

    def test_sync_pages_are_consecutive_and_flow_controlled(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        for i in range(25):
            a.send_text(conv.conversation_id, "p%d" % i)
        b = Client(self.s)
        b.login("alice", device="tablet")
        f = pb.Frame()
        f.sync_request.after_seq = 0
        f.sync_request.limit = 10
        rid = b.send(f)
        page = b.recv_until(lambda x: x.request_id == rid).sync_page
        self.assertEqual([e.seq for e in page.events], list(range(1, 11)))
        self.assertTrue(page.has_more)
        self.assertEqual(page.head_seq, 26)
        # asking again from before the connection's position does not resend
        f = pb.Frame()
        f.sync_request.after_seq = 5
        f.sync_request.limit = 10
        rid = b.send(f)
        page = b.recv_until(lambda x: x.request_id == rid).sync_page
        self.assertEqual([e.seq for e in page.events], list(range(11, 21)))
        rest = b.sync(after=20, limit=10)
        self.assertEqual([e.seq for e in rest], list(range(21, 27)))

    def test_frames_of_every_size_arrive_whole_and_in_order(self):
        # Frames written together (a send's ack and the sender's own event, the events of
        # a group of sends) share one write with their WebSocket headers made by soukd:
        # 2-byte (< 126), 4-byte (126 ... 65535) headers; and a sync page near the frame
        # limit goes out in one piece.
        a = self.device("alice", "phone")
        b = self.device("alice", "tablet")
        conv = a.open_support()
        b.events(1)
        a.events(1)
        sizes = [1, 90, 100, 110, 126, 300, 4000, 16000] * 5
        bodies = ["%d:" % i + "x" * (n - len("%d:" % i)) if n > 4 else "%d" % i
                  for i, n in enumerate(sizes)]
        rids = [a.send_text(conv.conversation_id, t, wait=False)[0] for t in bodies]
        acks = {}
        mine = []
        while len(acks) < len(rids) or len(mine) < len(rids):
            f = a.recv(timeout=20)
            if f.WhichOneof("body") == "send_ack":
                acks[f.request_id] = f.send_ack.seq
            elif f.WhichOneof("body") == "events":
                mine.extend(f.events.events)
        self.assertEqual([acks[r] for r in rids], list(range(2, 2 + len(rids))))
        self.assertEqual([e.message.content.text.body for e in mine], bodies)
        theirs = b.events(len(bodies), timeout=20)
        self.assertEqual([e.seq for e in theirs], list(range(2, 2 + len(rids))))
        self.assertEqual([e.message.content.text.body for e in theirs], bodies)
        # a new device catches up in pages of up to the frame limit
        c = self.device("alice", "laptop")
        self.assertEqual([e.message.content.text.body for e in c.synced[1:]], bodies)
        for x in (a, b, c):
            x.close()

    def test_mark_read_reaches_the_other_device(self):
        a = self.device("alice", "phone")
        b = self.device("alice", "tablet")
        conv = a.open_support()
        for i in range(3):
            a.send_text(conv.conversation_id, "r%d" % i)
        b.events(4)
        f = pb.Frame()
        f.mark_read.conversation_id = conv.conversation_id
        f.mark_read.up_to_conv_seq = 2
        a.send(f)
        ev = b.events(1)[0]
        self.assertEqual(ev.WhichOneof("body"), "receipt")
        self.assertEqual(ev.receipt.kind, pb.RECEIPT_READ)
        self.assertEqual(ev.receipt.user_id, "alice")
        self.assertEqual(ev.receipt.up_to_conv_seq, 2)
        # marking an older position again appends nothing
        a.send(f)
        a.send_text(conv.conversation_id, "after")
        nxt = b.events(1)[0]
        self.assertEqual(nxt.WhichOneof("body"), "message")

    def test_send_to_unknown_or_foreign_conversation_is_refused(self):
        a = self.device("alice", "phone")
        bob = self.device("bob", "phone")
        bconv = bob.open_support()
        for conv_id, code in (("conv_nope", E.CONVERSATION_NOT_FOUND),
                              (bconv.conversation_id, E.NOT_A_PARTICIPANT)):
            cmid = uuid.uuid4().bytes
            r = a.send_text(conv_id, "x", cmid=cmid)
            self.assertEqual(r.WhichOneof("body"), "error")
            self.assertEqual(r.error.code, code)
            self.assertTrue(r.error.permanent)
            self.assertEqual(r.error.client_msg_id, cmid)
        # the refused sends left no event anywhere
        self.assertEqual([e.seq for e in bob.events(1)], [1])
        a2 = self.device("alice", "tablet")
        self.assertEqual(a2.synced, [])

    def test_typing_is_relayed_only_to_participants(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        f = pb.Frame()
        f.typing.conversation_id = conv.conversation_id
        f.typing.on = True
        a.send(f)
        # alice is the only participant: nobody else gets it, and the sender gets no echo
        ack = a.send_text(conv.conversation_id, "x")
        self.assertEqual(ack.WhichOneof("body"), "send_ack")
        for fr in a.pending:
            self.assertNotEqual(fr.WhichOneof("body"), "typing")

    def test_ping_pong(self):
        a = self.device("alice", "phone", sync=False)
        f = pb.Frame()
        f.ping.client_time_ms = 1234
        rid = a.send(f)
        r = a.recv_until(lambda x: x.request_id == rid)
        self.assertEqual(r.pong.client_time_ms, 1234)
        self.assertGreater(r.pong.server_time_ms, 0)

    def test_metrics_count_what_happened(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        for i in range(5):
            a.send_text(conv.conversation_id, "m")
        m = self.s.metrics()
        self.assertEqual(m["souk_messages_accepted_total"], 5)
        self.assertGreaterEqual(m["souk_connections"], 1)
        self.assertGreaterEqual(m["souk_commit_batch_size_count"], 1)
        self.assertIn('souk_commit_seconds_bucket{le="+Inf"}', m)


class DeliveryOnPollLoopTest(DeliveryTest):
    """The same delivery tests on lws' own poll() loop (event_loop "poll"; the default,
    "epoll", runs lws on libuv)."""
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 10000, "send_burst": 10000,
                                "event_loop": "poll"}).start()


if __name__ == "__main__":
    unittest.main()
