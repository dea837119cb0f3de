"""Durability: soukd killed with SIGKILL right after acks comes back with every acked
message, at the same sequence; SIGTERM drains before exiting."""
import signal
import threading
import time
import unittest
import uuid

from souk_harness import Client, Server, pb


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 100000, "send_burst": 100000}).start()

    def tearDown(self):
        self.s.close()

    def test_sigkill_right_after_acks_loses_nothing(self):
        acked = {}  # message_id -> (seq, text)
        c = Client(self.s)
        c.login("alice", device="phone")
        c.sync()
        conv = c.open_support()
        for cycle in range(5):
            # pipeline a burst, take every ack that arrives, then kill at once
            sent = {}
            for i in range(200):
                text = "c%d-%d" % (cycle, i)
                rid, cmid = c.send_text(conv.conversation_id, text, wait=False)
                sent[rid] = text
            got = 0
            while got < 120:  # kill while later sends are still in flight
                f = c.recv()
                if f.WhichOneof("body") == "send_ack":
                    acked[f.send_ack.message_id] = (f.send_ack.seq, sent[f.request_id])
                    got += 1
            self.s.kill(signal.SIGKILL)
            c.close()
            self.s.start()
            c = Client(self.s)
            c.login("alice", device="phone")
            c.sync()
        checker = Client(self.s)
        checker.login("alice", device="checker")
        events = checker.sync()
        seqs = [e.seq for e in events]
        self.assertEqual(seqs, list(range(1, len(events) + 1)), "dense, no gaps")
        stored = {e.message.message_id: (e.seq, e.message.content.text.body)
                  for e in events if e.WhichOneof("body") == "message"}
        lost = [m for m in acked if m not in stored]
        self.assertEqual(lost, [])
        for mid, (seq, text) in acked.items():
            self.assertEqual(stored[mid], (seq, text))
        bodies = [t for _, t in stored.values()]
        self.assertEqual(len(bodies), len(set(bodies)), "nothing stored twice")
        self.assertGreaterEqual(len(acked), 600)

    def test_retry_after_crash_is_deduplicated(self):
        c = Client(self.s)
        c.login("bob")
        c.sync()
        conv = c.open_support()
        cmid = uuid.uuid4().bytes
        first = c.send_text(conv.conversation_id, "maybe", cmid=cmid).send_ack
        self.s.restart()
        c = Client(self.s)
        c.login("bob")
        c.sync()
        again = c.send_text(conv.conversation_id, "maybe", cmid=cmid).send_ack
        self.assertTrue(again.duplicate)
        self.assertEqual((again.message_id, again.seq), (first.message_id, first.seq))

    def test_sigterm_answers_in_flight_sends_then_exits_cleanly(self):
        c = Client(self.s)
        c.login("carol")
        c.sync()
        conv = c.open_support()
        rids = [c.send_text(conv.conversation_id, "t%d" % i, wait=False)[0] for i in range(300)]
        answered = {}
        # SIGTERM once the server is answering (a signal that beats every send to the
        # server leaves nothing in flight to test), with the rest still in flight
        while not answered:
            f = c.recv(timeout=20)
            if f.request_id in rids:
                answered[f.request_id] = f.WhichOneof("body")
        self.s.proc.send_signal(signal.SIGTERM)
        closed = None
        try:
            while len(answered) < len(rids):
                f = c.recv(timeout=20)
                if f.request_id in rids:
                    answered[f.request_id] = f.WhichOneof("body")
        except Exception as e:  # the server closes with 1001 once drained
            closed = e
        self.assertEqual(self.s.proc.wait(timeout=30), 0)
        acked = [r for r, b in answered.items() if b == "send_ack"]
        # every send that reached the server before it stopped taking them got an answer
        self.assertGreater(len(acked), 0)
        self.s.start()
        checker = Client(self.s)
        checker.login("carol", device="checker")
        msgs = [e for e in checker.sync() if e.WhichOneof("body") == "message"]
        self.assertGreaterEqual(len(msgs), len(acked))


if __name__ == "__main__":
    unittest.main()
