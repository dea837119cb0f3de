"""/metrics as an operator reads it: the per-send stage histograms (souk_send_*_seconds,
souk_event_write_seconds; docs/operations.md) count every acked send once, and every live
EventBatch written per device; their buckets are cumulative and never go down."""
import time
import unittest
import uuid

from souk_harness import Client, Server

SEND_STAGES = ["souk_send_queue_seconds", "souk_send_group_seconds",
               "souk_send_completion_seconds", "souk_send_ack_seconds"]
ALL_STAGES = SEND_STAGES + ["souk_event_write_seconds"]


def buckets(m, name):
    """[(le, cumulative count)] in le order, +Inf last."""
    out = []
    for k, v in m.items():
        if k.startswith(name + "_bucket{"):
            le = k.split('"')[1]
            out.append((float("inf") if le == "+Inf" else float(le), v))
    return sorted(out)


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 10000, "send_burst": 10000}).start()

    def tearDown(self):
        self.s.close()

    def device(self, user, name):
        c = Client(self.s)
        c.login(user, device=name)
        c.sync()  # live from here on
        return c

    def check_histogram(self, m, name):
        b = buckets(m, name)
        self.assertGreaterEqual(len(b), 10, name)
        self.assertEqual(b[-1][0], float("inf"), name)
        self.assertEqual(b[0][0], 0.0005, name)
        self.assertEqual(b[-2][0], 1.0, name)
        counts = [c for _, c in b]
        self.assertEqual(counts, sorted(counts), "%s: buckets not cumulative: %s" % (name, b))
        self.assertEqual(b[-1][1], m[name + "_count"], name)
        self.assertGreaterEqual(m[name + "_sum"], 0.0, name)
        return b

    def wait_count(self, name, want, timeout=10):
        deadline = time.time() + timeout
        while True:
            m = self.s.metrics()
            if m[name + "_count"] >= want or time.time() > deadline:
                return m
            time.sleep(0.05)

    def test_stage_histograms_count_each_acked_send(self):
        phone = self.device("alice", "phone")
        tablet = self.device("alice", "tablet")
        conv = phone.open_support()
        tablet.events(1)  # the conversation-created event
        m0 = self.wait_count("souk_event_write_seconds", 2)  # ... written to both devices
        for name in ALL_STAGES:
            self.check_histogram(m0, name)

        n = 7
        cmids = [uuid.uuid4().bytes for _ in range(n)]
        for cmid in cmids:
            ack = phone.send_text(conv.conversation_id, "m", cmid=cmid)
            self.assertEqual(ack.WhichOneof("body"), "send_ack", ack)
        # a retry is answered with the first ack: one more acked send, nothing stored
        dup = phone.send_text(conv.conversation_id, "m", cmid=cmids[0])
        self.assertTrue(dup.send_ack.duplicate, dup)
        # a refused send (no such conversation) is no acked send
        bad = phone.send_text("no-such-conversation", "m")
        self.assertEqual(bad.WhichOneof("body"), "error", bad)
        self.assertEqual(len(tablet.events(n)), n)

        # each new message went live to both devices of alice
        m1 = self.wait_count("souk_event_write_seconds",
                             m0["souk_event_write_seconds_count"] + 2 * n)
        self.assertEqual(m1["souk_messages_accepted_total"] - m0["souk_messages_accepted_total"],
                         n)
        for name in SEND_STAGES:
            self.assertEqual(m1[name + "_count"] - m0[name + "_count"], n + 1, name)
        self.assertEqual(m1["souk_event_write_seconds_count"] -
                         m0["souk_event_write_seconds_count"], 2 * n)
        for name in ALL_STAGES:
            b0, b1 = self.check_histogram(m0, name), self.check_histogram(m1, name)
            for (le0, c0), (le1, c1) in zip(b0, b1):
                self.assertEqual(le0, le1)
                self.assertGreaterEqual(c1, c0, "%s le=%s went down" % (name, le0))
            self.assertGreaterEqual(m1[name + "_sum"], m0[name + "_sum"], name)
        # the whole answer is longer than the stages it is made of
        parts = sum(m1[s + "_sum"] - m0[s + "_sum"] for s in SEND_STAGES[:3])
        self.assertGreaterEqual(
            m1["souk_send_ack_seconds_sum"] - m0["souk_send_ack_seconds_sum"], parts - 1e-5)
        phone.close()
        tablet.close()


if __name__ == "__main__":
    unittest.main()
