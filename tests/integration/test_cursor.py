"""The stored device cursor (devices.cursor): soukd keeps the latest ack of each connection
in memory and writes it coalesced (the first ack at once, then at most every few seconds
while the device keeps acking) — and always at disconnect and at shutdown, so the stored
cursor is the device's last ack once it has gone (docs/architecture.md, "Delivery")."""
import os
import signal
import sqlite3
import time
import unittest

from souk_harness import Client, Server


class CursorTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config={"send_rate_per_s": 10000, "send_burst": 10000}).start()

    def tearDown(self):
        self.s.close()

    def cursor(self, device):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.s.data, "souk.db"),
                             uri=True, timeout=10)
        try:
            row = db.execute("SELECT cursor FROM devices WHERE device_id = ?",
                             (device,)).fetchone()
            return row[0] if row else None
        finally:
            db.close()

    def wait_cursor(self, device, want, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.cursor(device)
            if got == want:
                return got
            time.sleep(0.05)
        return self.cursor(device)

    def device(self, name):
        c = Client(self.s)
        c.login("alice", device=name)
        c.sync()
        return c

    def sender_and_reader(self, n):
        a = self.device("phone")
        b = self.device("tablet")
        conv = a.open_support()
        for i in range(n):
            a.send_text(conv.conversation_id, "m%d" % i)
        got = b.events(n + 1)  # the conversation event, then the messages
        self.assertEqual([e.seq for e in got], list(range(1, n + 2)))
        return a, b

    def test_last_ack_is_stored_at_disconnect(self):
        a, b = self.sender_and_reader(5)
        for seq in range(1, 7):  # one ack per event, in quick succession
            b.ack(seq)
        # the first ack is written at once; the later ones are coalesced in memory
        self.assertEqual(self.wait_cursor("tablet", 1), 1)
        b.close()
        self.assertEqual(self.wait_cursor("tablet", 6), 6)
        a.close()

    def test_last_ack_is_stored_at_shutdown(self):
        a, b = self.sender_and_reader(3)
        for seq in range(1, 5):
            b.ack(seq)
        self.assertEqual(self.wait_cursor("tablet", 1), 1)
        time.sleep(0.3)  # the acks have arrived; the connection stays open
        self.assertEqual(self.s.kill(signal.SIGTERM), 0)
        self.assertEqual(self.cursor("tablet"), 4)
        a.close()
        b.close()

    def test_an_ack_beyond_what_was_sent_is_not_stored(self):
        a, b = self.sender_and_reader(2)
        b.ack(100)  # clamped to what the connection was sent (3)
        b.close()
        self.assertEqual(self.wait_cursor("tablet", 3), 3)
        a.close()


if __name__ == "__main__":
    unittest.main()
