"""Agent backend over real sockets: webhooks to a real HTTP receiver (signed, once, in
order, through receiver outages, 500s, slowness and soukd crashes), the REST API (agent
replies reaching every device, idempotency, handoff, cross-app refusal, bad input),
shopping context."""
import signal
import time
import unittest

from agent_harness import Receiver, Rest, verify
from souk_harness import Client, Server, pb

FAST = {"send_rate_per_s": 10000, "send_burst": 10000}


def bodies(events):
    return [j["data"]["message"]["content"]["text"]["body"] for j in events]


class WebhookTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config=FAST).start()
        self.api = Rest(self.s, self.s.app["api_key"])
        self.rx = Receiver()
        st, j = self.api.call("POST", "/v1/webhooks", {"url": self.rx.url})
        self.assertEqual(st, 201, j)
        self.secret = j["webhook"]["secret"]
        self.assertTrue(self.secret.startswith("whsec_"))

    def tearDown(self):
        self.rx.stop()
        self.s.close()

    def shopper(self, user="alice", device="phone"):
        c = Client(self.s)
        c.login(user, device=device)
        c.sync()
        return c, c.open_support()

    def assert_signed(self):
        for h, b, j in self.rx.events():
            self.assertTrue(verify(self.secret, h, b), h)

    def test_messages_reach_the_receiver_once_in_order_signed(self):
        c, conv = self.shopper()
        for i in range(10):
            c.send_text(conv.conversation_id, "m%d" % i)
        self.assertTrue(self.rx.wait(lambda r: len(r.unique("message.created")) == 10))
        got = self.rx.unique("message.created")
        self.assertEqual(bodies(got), ["m%d" % i for i in range(10)])
        self.assertEqual([j["data"]["message"]["conv_seq"] for j in got], list(range(1, 11)))
        self.assertEqual(got[0]["data"]["conversation"]["id"], conv.conversation_id)
        self.assertEqual(got[0]["data"]["conversation"]["user_id"], "alice")
        self.assertEqual(got[0]["data"]["app_id"], self.s.app["app_id"])
        created = self.rx.unique("conversation.created")
        self.assertEqual(len(created), 1)
        self.assert_signed()
        self.assertEqual(len(self.rx.events("message.created")), 10)  # no duplicate on the wire

    def test_receiver_down_then_back(self):
        c, conv = self.shopper()
        port = self.rx.port
        self.rx.stop()
        for i in range(3):
            c.send_text(conv.conversation_id, "down%d" % i)
        time.sleep(1.5)
        st, j = self.api.call("GET", "/v1/webhook-deliveries?state=pending")
        self.assertEqual(st, 200)
        pending = [d for d in j["deliveries"] if d["type"] == "message.created"]
        self.assertEqual(len(pending), 3)
        self.assertTrue(any(d["attempts"] >= 1 and d["last_error"] for d in j["deliveries"]))
        self.rx = Receiver(port=port)
        self.assertTrue(self.rx.wait(lambda r: len(r.unique("message.created")) == 3, 40))
        self.assertEqual(bodies(self.rx.unique("message.created")), ["down0", "down1", "down2"])
        self.assert_signed()
        self.assertTrue(self.rx.wait(lambda r: self.api.call(
            "GET", "/v1/webhook-deliveries?state=pending")[1]["deliveries"] == [], 10))

    def test_receiver_answering_500(self):
        c, conv = self.shopper()
        self.rx.wait(lambda r: r.unique("conversation.created"))
        self.rx.fail_left = 3
        for i in range(4):
            c.send_text(conv.conversation_id, "e%d" % i)
        self.assertTrue(self.rx.wait(lambda r: len(r.unique("message.created")) == 4, 40))
        self.assertEqual(bodies(self.rx.unique("message.created")), ["e0", "e1", "e2", "e3"])
        # the 500s were retried with the same event id
        ids = [h["webhook-id"] for h, b, j in self.rx.events("message.created")]
        self.assertGreater(len(ids), 4)
        self.assertEqual(len(set(ids)), 4)
        st, j = self.api.call("GET", "/v1/webhook-deliveries?state=delivered")
        first = [d for d in j["deliveries"] if d["type"] == "message.created"][0]
        self.assertGreaterEqual(first["attempts"], 2)

    def test_slow_receiver(self):
        self.rx.mode, self.rx.delay = "slow", 1.0
        c, conv = self.shopper()
        for i in range(3):
            c.send_text(conv.conversation_id, "s%d" % i)
        self.assertTrue(self.rx.wait(lambda r: len(r.unique("message.created")) == 3, 40))
        self.assertEqual(bodies(self.rx.unique("message.created")), ["s0", "s1", "s2"])

    def test_soukd_killed_mid_delivery(self):
        self.rx.mode, self.rx.delay = "slow", 0.5
        c, conv = self.shopper()
        for i in range(6):
            c.send_text(conv.conversation_id, "k%d" % i)
        time.sleep(0.8)
        self.s.kill(signal.SIGKILL)
        c.close()
        self.s.start()
        self.rx.mode = "ok"
        self.assertTrue(self.rx.wait(lambda r: len(r.unique("message.created")) == 6, 40))
        got = self.rx.unique("message.created")
        self.assertEqual(bodies(got), ["k%d" % i for i in range(6)])
        # duplicates on the wire are allowed only with the same event id
        by_id = {}
        for h, b, j in self.rx.events("message.created"):
            by_id.setdefault(h["webhook-id"], b)
            self.assertEqual(by_id[h["webhook-id"]], b)
        self.assert_signed()

    def test_secret_rotation_signs_with_both(self):
        st, j = self.api.call("GET", "/v1/webhooks")
        wid = j["webhooks"][0]["id"]
        st, j = self.api.call("POST", "/v1/webhooks/%s/rotate-secret" % wid)
        self.assertEqual(st, 200)
        new = j["secret"]
        c, conv = self.shopper()
        c.send_text(conv.conversation_id, "rotated")
        self.assertTrue(self.rx.wait(lambda r: r.unique("message.created")))
        h, b, _ = self.rx.events("message.created")[0]
        self.assertTrue(verify(new, h, b))
        self.assertTrue(verify(self.secret, h, b))
        self.assertEqual(len(h["webhook-signature"].split()), 2)

    def test_read_context_and_csat_webhooks(self):
        c, conv = self.shopper()
        c.send_text(conv.conversation_id, "hi")
        f = pb.Frame()
        f.update_context.conversation_id = conv.conversation_id
        x = f.update_context.context
        x.product.title = "Trail shoe"
        x.product.product_id = "sku-1"
        x.product.price.amount_minor = 8999
        x.product.price.currency = "EUR"
        x.attributes["tier"] = "gold"
        x.attributes["locale"] = "fr-FR"
        v = x.page_trail.add()
        v.url = "https://shop.example/p/sku-1"
        rid = c.send(f)
        r = c.recv_until(lambda fr: fr.request_id == rid)
        self.assertEqual(r.WhichOneof("body"), "context_updated")
        m = pb.Frame()
        m.mark_read.conversation_id = conv.conversation_id
        m.mark_read.up_to_conv_seq = 1
        c.send(m)
        cs = pb.Frame()
        cs.send.client_msg_id = b"c" * 16
        cs.send.conversation_id = conv.conversation_id
        cs.send.content.csat_answer.survey_id = "s1"
        cs.send.content.csat_answer.rating = 4
        rid = c.send(cs)
        self.assertEqual(c.recv_until(lambda fr: fr.request_id == rid).WhichOneof("body"),
                         "send_ack")
        for t in ("context.updated", "conversation.read", "csat.answered"):
            self.assertTrue(self.rx.wait(lambda r, t=t: r.unique(t)), t)
        ctx = self.rx.unique("context.updated")[0]["data"]["context"]
        self.assertEqual(ctx["product"]["title"], "Trail shoe")
        self.assertEqual(ctx["attributes"], {"tier": "gold", "locale": "fr-FR"})
        self.assertEqual(self.rx.unique("csat.answered")[0]["data"]["rating"], 4)
        self.assertEqual(self.rx.unique("conversation.read")[0]["data"]["up_to_conv_seq"], 1)
        st, j = self.api.call("GET", "/v1/users/alice/context")
        self.assertEqual(st, 200)
        self.assertEqual(j["context"]["product"]["price"], {"amount_minor": 8999, "currency": "EUR"})
        st, j = self.api.call("GET", "/v1/conversations/" + conv.conversation_id)
        self.assertEqual(j["conversation"]["context"]["attributes"]["tier"], "gold")


class RestTest(unittest.TestCase):
    def setUp(self):
        self.s = Server(config=FAST, apps=2).start()
        self.api = Rest(self.s, self.s.app["api_key"])
        self.other = Rest(self.s, self.s.apps[1]["api_key"])

    def tearDown(self):
        self.s.close()

    def device(self, user, dev):
        c = Client(self.s)
        c.login(user, device=dev)
        c.sync()
        return c

    def reply(self, conv_id, text, key=None, api=None):
        return (api or self.api).call(
            "POST", "/v1/conversations/%s/messages" % conv_id,
            {"sender": {"id": "agent-7", "kind": "agent", "name": "Sam",
                        "avatar_url": "https://cdn.example/sam.png"},
             "content": {"text": {"body": text}}},
            headers={"Idempotency-Key": key} if key else None)

    def test_agent_reply_reaches_every_device_once(self):
        a = self.device("alice", "phone")
        b = self.device("alice", "tablet")
        conv = a.open_support()
        b.events(1)
        st, j = self.reply(conv.conversation_id, "Hello from the shop", key="k-1")
        self.assertEqual(st, 201, j)
        st2, j2 = self.reply(conv.conversation_id, "Hello from the shop", key="k-1")
        self.assertEqual(st2, 200)
        self.assertTrue(j2["duplicate"])
        st3, j3 = self.reply(conv.conversation_id, "too long a key", key="k" * 300)
        self.assertEqual(st3, 400)
        self.assertIn("Idempotency-Key", j3["error"]["message"])
        self.assertEqual(j2["message"]["id"], j["message"]["id"])
        for dev in (a, b):
            m = None
            while m is None:
                e = dev.events(1)[0]
                m = e.message if e.WhichOneof("body") == "message" else None
            self.assertEqual(m.content.text.body, "Hello from the shop")
            self.assertEqual(m.sender_kind, pb.SENDER_AGENT)
            self.assertEqual(m.sender_name, "Sam")
            self.assertEqual(m.sender_avatar_url, "https://cdn.example/sam.png")
        # stored once: the history has one message
        st, j = self.api.call("GET", "/v1/conversations/%s/messages" % conv.conversation_id)
        self.assertEqual(len(j["messages"]), 1)
        fresh = Client(self.s)
        fresh.login("alice", device="laptop")
        msgs = [e for e in fresh.sync() if e.WhichOneof("body") == "message"]
        self.assertEqual(len(msgs), 1)

    def test_idempotency_key_reused_in_another_conversation(self):
        a = self.device("alice", "phone")
        b = self.device("bob", "phone")
        ca, cb = a.open_support(), b.open_support()
        st, j = self.reply(ca.conversation_id, "Your parcel left", key="k-9")
        self.assertEqual(st, 201, j)
        self.assertEqual(j["message"]["conversation_id"], ca.conversation_id)
        st, j2 = self.reply(cb.conversation_id, "Your parcel left", key="k-9")
        self.assertEqual(st, 409, j2)
        self.assertEqual(j2["error"]["code"], "idempotency_key_reused")
        st, j3 = self.api.call("GET", "/v1/conversations/%s/messages" % cb.conversation_id)
        self.assertEqual(j3["messages"], [])
        # the replay in the right conversation still answers the original
        st, j4 = self.reply(ca.conversation_id, "Your parcel left", key="k-9")
        self.assertEqual((st, j4["message"]["id"], j4["message"]["conversation_id"]),
                         (200, j["message"]["id"], ca.conversation_id))

    def test_rich_content_and_validation(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        path = "/v1/conversations/%s/messages" % conv.conversation_id
        sender = {"id": "bot-1", "kind": "bot", "name": "Helper"}
        st, j = self.api.call("POST", path, {"sender": sender, "content": {
            "fallback_text": "Pick one", "quick_replies": {
                "prompt": "Track your order?",
                "replies": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}}})
        self.assertEqual(st, 201, j)
        st, j = self.api.call("POST", path, {"sender": sender, "content": {"order": {
            "order_id": "o-42", "status": "shipped",
            "items": [{"title": "Shoe", "quantity": 1,
                       "price": {"amount_minor": 8999, "currency": "EUR"}}],
            "total": {"amount_minor": 8999, "currency": "EUR"}}}})
        self.assertEqual(st, 201, j)
        evs = [e.message for e in a.events(3) if e.WhichOneof("body") == "message"]
        self.assertEqual([r.id for r in evs[0].content.quick_replies.replies], ["yes", "no"])
        self.assertEqual(evs[0].sender_kind, pb.SENDER_BOT)
        self.assertEqual(evs[1].content.order.items[0].price.amount_minor, 8999)
        bad = [
            ({"sender": sender, "content": {"text": {"body": 5}}}, "content.text.body must be a string"),
            ({"sender": sender, "content": {"text": {"body": "x"}, "product": {"title": "y"}}}, "exactly one"),
            ({"sender": sender, "content": {"product": {"title": "y", "price": {"amount_minor": "9", "currency": "EUR"}}}}, "amount_minor must be an integer"),
            ({"sender": sender, "content": {"text": {"body": "x", "color": "red"}}}, "color is not a known field"),
            ({"sender": {"id": "x", "kind": "shopper"}, "content": {"text": {"body": "x"}}}, "sender.kind"),
            ({"content": {"text": {"body": "x"}}}, "sender"),
            ({"sender": sender}, "content is required"),
            ({"sender": sender, "content": {"csat_answer": {"survey_id": "s", "rating": 11}}}, "rating is out of range"),
        ]
        for body, words in bad:
            st, j = self.api.call("POST", path, body)
            self.assertEqual(st, 400, (body, j))
            self.assertIn(words, j["error"]["message"], body)
        st, j = self.api.call("POST", path, raw=b"{not json")
        self.assertEqual(st, 400)
        self.assertIn("malformed JSON", j["error"]["message"])
        st, j = self.api.call("POST", path, raw=b"[1,2]")
        self.assertEqual(st, 400)

    def test_status_assignment_typing_and_read_reach_the_shopper(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        a.events(1)
        a.send_text(conv.conversation_id, "help")
        a.events(1)
        cid = conv.conversation_id
        st, j = self.api.call("PATCH", "/v1/conversations/" + cid,
                              {"status": "pending", "assignee": "agent-7"})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["conversation"]["status"], "pending")
        ev = a.events(1)[0]
        self.assertEqual(ev.conversation.status, pb.CONVERSATION_PENDING)
        self.assertEqual(ev.conversation.assignee, "agent-7")
        sender = {"id": "agent-7", "kind": "agent"}
        st, _ = self.api.call("POST", "/v1/conversations/%s/typing" % cid,
                              {"sender": sender, "on": True})
        self.assertEqual(st, 204)
        t = a.recv_until(lambda f: f.WhichOneof("body") == "typing")
        self.assertEqual((t.typing.user_id, t.typing.on), ("agent-7", True))
        st, _ = self.api.call("POST", "/v1/conversations/%s/read" % cid,
                              {"sender": sender, "up_to_conv_seq": 1})
        self.assertEqual(st, 204)
        r = [e for e in a.events(1) if e.WhichOneof("body") == "receipt"][0]
        self.assertEqual((r.receipt.user_id, r.receipt.up_to_conv_seq), ("agent-7", 1))
        st, j = self.api.call("PATCH", "/v1/conversations/" + cid, {"status": "closed"})
        self.assertEqual(st, 400)
        st, j = self.api.call("GET", "/v1/conversations?status=pending")
        self.assertEqual([x["id"] for x in j["conversations"]], [cid])

    def test_handoff_changes_which_target_receives(self):
        bot_rx, desk_rx = Receiver(), Receiver()
        try:
            self.api.call("PATCH", "/v1/app", {"default_integration": "bot"})
            st, j = self.api.call("POST", "/v1/webhooks", {"url": bot_rx.url, "integration": "bot"})
            self.assertEqual(st, 201)
            st, j = self.api.call("POST", "/v1/webhooks",
                                  {"url": desk_rx.url, "integration": "desk",
                                   "events": ["message.created", "conversation.handoff"]})
            self.assertEqual(st, 201)
            a = self.device("alice", "phone")
            conv = a.open_support()
            self.assertEqual(conv.controller, "bot")
            a.send_text(conv.conversation_id, "to the bot")
            self.assertTrue(bot_rx.wait(lambda r: r.unique("message.created")))
            st, j = self.api.call("POST", "/v1/conversations/%s/handoff" % conv.conversation_id,
                                  {"to": "desk", "reason": "shopper asked for a person"})
            self.assertEqual(st, 200, j)
            self.assertEqual(j["conversation"]["controller"], "desk")
            # handing off to the integration already in control changes nothing
            st, j = self.api.call("POST", "/v1/conversations/%s/handoff" % conv.conversation_id,
                                  {"to": "desk"})
            self.assertEqual(st, 200)
            a.send_text(conv.conversation_id, "to a human")
            self.assertTrue(desk_rx.wait(lambda r: r.unique("message.created")))
            self.assertTrue(desk_rx.wait(lambda r: r.unique("conversation.handoff")))
            time.sleep(0.3)
            self.assertEqual(len(desk_rx.unique("conversation.handoff")), 1)
            h = desk_rx.unique("conversation.handoff")[0]["data"]
            self.assertEqual((h["from"], h["to"], h["reason"]),
                             ("bot", "desk", "shopper asked for a person"))
            self.assertEqual(bodies(desk_rx.unique("message.created")), ["to a human"])
            time.sleep(0.5)
            self.assertEqual(bodies(bot_rx.unique("message.created")), ["to the bot"])
            # the new controller can read the history
            st, j = self.api.call("GET", "/v1/conversations/%s/messages" % conv.conversation_id)
            self.assertEqual([m["content"]["text"]["body"] for m in j["messages"]],
                             ["to the bot", "to a human"])
        finally:
            bot_rx.stop()
            desk_rx.stop()

    def test_auth_and_cross_app_refusal_for_every_endpoint(self):
        a = self.device("alice", "phone")
        conv = a.open_support()
        cid = conv.conversation_id
        rx = Receiver()
        st, j = self.api.call("POST", "/v1/webhooks", {"url": rx.url})
        wid = j["webhook"]["id"]
        sender = {"sender": {"id": "x", "kind": "agent"}}
        endpoints = [
            ("GET", "/v1/conversations/" + cid, None),
            ("PATCH", "/v1/conversations/" + cid, {"status": "resolved"}),
            ("GET", "/v1/conversations/%s/messages" % cid, None),
            ("POST", "/v1/conversations/%s/messages" % cid,
             dict(sender, content={"text": {"body": "x"}})),
            ("POST", "/v1/conversations/%s/typing" % cid, dict(sender, on=True)),
            ("POST", "/v1/conversations/%s/read" % cid, dict(sender, up_to_conv_seq=1)),
            ("POST", "/v1/conversations/%s/handoff" % cid, {"to": "desk"}),
            ("GET", "/v1/users/alice/context", None),
            ("DELETE", "/v1/webhooks/" + wid, None),
            ("POST", "/v1/webhooks/%s/rotate-secret" % wid, None),
        ]
        for method, path, body in endpoints:
            st, j = self.other.call(method, path, body)
            self.assertEqual(st, 404, (method, path, j))
            st, j = self.api.call(method, path, body, key=None)
            self.assertEqual(st, 401, (method, path))
            st, j = self.api.call(method, path, body, key="sk_wrong")
            self.assertEqual(st, 401, (method, path))
        for method, path in (("GET", "/v1/conversations"), ("GET", "/v1/webhooks"),
                             ("GET", "/v1/webhook-deliveries"), ("GET", "/v1/app")):
            st, j = self.other.call(method, path)
            self.assertEqual(st, 200)
            self.assertNotIn(cid, str(j))
            self.assertNotIn(wid, str(j))
            self.assertEqual(self.api.call(method, path, key=None)[0], 401)
        # app B's refused calls caused no event on the shopper's device and no change
        st, j = self.api.call("GET", "/v1/conversations/" + cid)
        self.assertEqual(j["conversation"]["status"], "open")
        self.assertEqual(j["conversation"]["controller"], "desk")
        a.send_text(cid, "mine")  # only the shopper's own events follow
        evs = a.events(2)
        self.assertEqual([e.WhichOneof("body") for e in evs], ["conversation", "message"])
        rx.stop()

    def test_in_app_push_reaches_online_and_offline_users_once(self):
        online = [self.device("u%d" % i, "phone") for i in range(2)]
        st, j = self.api.call("POST", "/v1/push", {
            "user_ids": ["u0", "u1", "u2"],
            "push": {"title": "Summer sale", "body": "-30% on sneakers",
                     "deep_link": "shop://sale",
                     "product": {"product_id": "sku-9", "title": "Sneaker",
                                 "price": {"amount_minor": 5900, "currency": "EUR"}}}})
        self.assertEqual(st, 202, j)
        self.assertEqual((j["targeted"], j["stored"]), (3, 3))
        for dev in online:
            ev = dev.events(1)[0]
            self.assertEqual(ev.WhichOneof("body"), "push")
            self.assertEqual((ev.push.push_id, ev.push.title, ev.push.deep_link),
                             (j["push_id"], "Summer sale", "shop://sale"))
            self.assertEqual(ev.push.product.price.amount_minor, 5900)
        late = Client(self.s)
        late.login("u2", device="phone")
        evs = late.sync()
        self.assertEqual([e.WhichOneof("body") for e in evs], ["push"])
        # app B's key targets app B's users: app A's u0 gets nothing more
        st, j = self.other.call("POST", "/v1/push", {"user_ids": ["u0"], "push": {"body": "B"}})
        self.assertEqual(st, 202)
        online[0].send_text(online[0].open_support().conversation_id, "next")
        kinds = [e.WhichOneof("body") for e in online[0].events(2)]
        self.assertEqual(kinds, ["conversation", "message"])
        for bad in ({"user_ids": [], "push": {"title": "x"}},
                    {"user_ids": ["a"], "push": {}},
                    {"user_ids": ["a"], "push": {"title": 3}},
                    {"user_ids": [""], "push": {"title": "x"}},
                    {"user_ids": ["a"], "push": {"title": "x", "sound": "ding"}},
                    {"user_ids": ["a"], "push": {"title": "x", "product": {"title": 1}}}):
            st, j = self.api.call("POST", "/v1/push", bad)
            self.assertEqual(st, 400, (bad, j))

    def test_unknown_endpoint_and_method(self):
        self.assertEqual(self.api.call("GET", "/v1/nope")[0], 404)
        self.assertEqual(self.api.call("DELETE", "/v1/conversations")[0], 405)
        st, j = self.api.call("POST", "/v1/webhooks", {"url": "ftp://x"})
        self.assertEqual(st, 400)
        st, j = self.api.call("POST", "/v1/webhooks", {"url": "http://x", "events": ["nope"]})
        self.assertEqual(st, 400)
        st, j = self.api.call("GET", "/v1/conversations?limit=abc")
        self.assertEqual(st, 400)


if __name__ == "__main__":
    unittest.main()
