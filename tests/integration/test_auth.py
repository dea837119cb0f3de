"""Authentication over real sockets: every bad token is refused with its documented code
(docs/protocol.md#error-codes) and close 4401; good HS256 and ES256 tokens are accepted."""
import base64
import hashlib
import hmac
import json
import os
import time
import unittest

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from souk_harness import Client, Server, E, pb


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256_raw(header, claims, key):
    h = b64url(json.dumps(header).encode())
    p = b64url(json.dumps(claims).encode())
    sig = hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64url(sig)


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server(apps=2).start()
        cls.app, cls.other = cls.s.apps
        cls.secret = cls.app["jwt_secret"]
        key = ec.generate_private_key(ec.SECP256R1())
        cls.ec_priv = key
        cls.ec_pub_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        path = os.path.join(cls.s.dir, "k1.pem")
        with open(path, "wb") as f:
            f.write(cls.ec_pub_pem)
        cls.s.ctl("key", "add", cls.app["app_id"], "k1", "--es256-public-key", path)
        key2 = ec.generate_private_key(ec.SECP256R1())
        cls.ec_priv2 = key2
        path2 = os.path.join(cls.s.dir, "k2.pem")
        with open(path2, "wb") as f:
            f.write(key2.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        cls.s.ctl("key", "add", cls.app["app_id"], "k2", "--es256-public-key", path2)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def claims(self, **kw):
        now = int(time.time())
        c = {"sub": "alice", "iat": now, "exp": now + 600}
        c.update(kw)
        return {k: v for k, v in c.items() if v is not None}

    def refused(self, token, code, app=None):
        c = Client(self.s)
        r = c.hello(token, app=app)
        self.assertEqual(r.WhichOneof("body"), "error", r)
        self.assertEqual(r.error.code, code, r.error.message)
        close, _ = c.expect_close()
        self.assertEqual(close, 4401)
        c.close()

    def accepted(self, token, user="alice"):
        c = Client(self.s)
        r = c.hello(token)
        self.assertEqual(r.WhichOneof("body"), "welcome", r)
        self.assertEqual(r.welcome.user_id, user)
        c.close()

    def test_valid_hs256_from_soukctl(self):
        self.accepted(self.s.token("alice"))

    def test_valid_es256_with_either_active_kid(self):
        for kid, key in (("k1", self.ec_priv), ("k2", self.ec_priv2)):
            tok = jwt.encode(self.claims(), key, algorithm="ES256", headers={"kid": kid})
            self.accepted(tok)

    def test_alg_none(self):
        tok = jwt.encode(self.claims(), None, algorithm="none")
        self.refused(tok, E.TOKEN_INVALID)

    def test_alg_none_with_kid_of_es256_key(self):
        tok = jwt.encode(self.claims(), None, algorithm="none", headers={"kid": "k1"})
        self.refused(tok, E.TOKEN_INVALID)

    def test_hs256_signed_with_the_public_key(self):
        tok = hs256_raw({"alg": "HS256", "typ": "JWT", "kid": "k1"}, self.claims(),
                        self.ec_pub_pem)
        self.refused(tok, E.TOKEN_INVALID)

    def test_alg_name_is_case_sensitive(self):
        tok = hs256_raw({"alg": "hs256", "typ": "JWT"}, self.claims(), self.secret.encode())
        self.refused(tok, E.TOKEN_INVALID)

    def test_kid_must_be_a_string(self):
        tok = hs256_raw({"alg": "HS256", "typ": "JWT", "kid": 5}, self.claims(),
                        self.secret.encode())
        self.refused(tok, E.TOKEN_INVALID)

    def test_junk_inside_the_signature(self):
        tok = self.s.token("alice")
        self.refused(tok[:-6] + "!" + tok[-6:], E.TOKEN_INVALID)

    def test_exp_far_in_the_future_is_not_an_overflow(self):
        self.accepted(jwt.encode(self.claims(exp=2**62), self.secret, algorithm="HS256"))

    def test_wrong_secret(self):
        tok = jwt.encode(self.claims(), "not-the-secret", algorithm="HS256")
        self.refused(tok, E.TOKEN_INVALID)

    def test_other_apps_secret(self):
        tok = jwt.encode(self.claims(), self.other["jwt_secret"], algorithm="HS256")
        self.refused(tok, E.TOKEN_INVALID)

    def test_es256_signed_by_unregistered_key(self):
        k = ec.generate_private_key(ec.SECP256R1())
        tok = jwt.encode(self.claims(), k, algorithm="ES256", headers={"kid": "k1"})
        self.refused(tok, E.TOKEN_INVALID)

    def test_expired(self):
        now = int(time.time())
        tok = jwt.encode(self.claims(iat=now - 7200, exp=now - 3600), self.secret, algorithm="HS256")
        self.refused(tok, E.TOKEN_EXPIRED)

    def test_not_yet_valid(self):
        now = int(time.time())
        tok = jwt.encode(self.claims(nbf=now + 3600), self.secret, algorithm="HS256")
        self.refused(tok, E.TOKEN_NOT_YET_VALID)

    def test_missing_exp(self):
        tok = jwt.encode(self.claims(exp=None), self.secret, algorithm="HS256")
        self.refused(tok, E.TOKEN_CLAIMS)

    def test_missing_sub(self):
        tok = jwt.encode(self.claims(sub=None), self.secret, algorithm="HS256")
        self.refused(tok, E.TOKEN_CLAIMS)

    def test_exp_not_a_number(self):
        tok = jwt.encode(self.claims(exp="tomorrow"), self.secret, algorithm="HS256")
        self.refused(tok, E.TOKEN_CLAIMS)

    def test_unknown_kid(self):
        tok = jwt.encode(self.claims(), self.ec_priv, algorithm="ES256", headers={"kid": "nope"})
        self.refused(tok, E.UNKNOWN_KEY)

    def test_revoked_kid(self):
        k = ec.generate_private_key(ec.SECP256R1())
        path = os.path.join(self.s.dir, "k3.pem")
        with open(path, "wb") as f:
            f.write(k.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        # a fresh app, so that soukd has not cached its keys
        app = self.s.create_app("rot")
        self.s.ctl("key", "add", app["app_id"], "k3", "--es256-public-key", path)
        self.s.ctl("key", "revoke", app["app_id"], "k3")
        tok = jwt.encode(self.claims(), k, algorithm="ES256", headers={"kid": "k3"})
        self.refused(tok, E.UNKNOWN_KEY, app=app)

    def test_key_added_while_the_app_is_cached_works_at_once(self):
        app = self.s.create_app("rotate-live")
        c = Client(self.s)
        self.assertEqual(c.hello(self.s.token("u", app=app), app=app).WhichOneof("body"),
                         "welcome")  # the app's keys are now cached
        c.close()
        time.sleep(1.2)
        k = ec.generate_private_key(ec.SECP256R1())
        path = os.path.join(self.s.dir, "k-live.pem")
        with open(path, "wb") as f:
            f.write(k.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.s.ctl("key", "add", app["app_id"], "live", "--es256-public-key", path)
        tok = jwt.encode(self.claims(), k, algorithm="ES256", headers={"kid": "live"})
        c = Client(self.s)
        self.assertEqual(c.hello(tok, app=app).WhichOneof("body"), "welcome")
        c.close()

    def test_truncated_signature(self):
        tok = self.s.token("alice")
        self.refused(tok[:-10], E.TOKEN_INVALID)

    def test_garbage(self):
        for tok in ("garbage", "a.b.c", "....", "eyJ.eyJ.x"):
            self.refused(tok, E.TOKEN_INVALID)

    def test_oversized_token(self):
        tok = jwt.encode(self.claims(pad="x" * 5000), self.secret, algorithm="HS256")
        self.refused(tok, E.INVALID_FIELD)

    def test_large_token_in_one_frame_and_in_many_fragments(self):
        # soukd's WebSocket receive buffer (rx_buffer_size in gateway.c) is much smaller than
        # this hello: libwebsockets hands it over in pieces that soukd reassembles, whether
        # it came as one WebSocket frame or as many
        import websocket
        tok = jwt.encode(self.claims(pad="x" * 2800), self.secret, algorithm="HS256")
        self.assertGreater(len(tok), 3500)
        self.assertLessEqual(len(tok), 4096)  # SOUK_WIRE_MAX_TOKEN
        self.accepted(tok)
        c = Client(self.s)
        f = pb.Frame()
        f.request_id = 5
        f.hello.protocol_version = 1
        f.hello.app_id = self.app["app_id"]
        f.hello.token = tok
        f.hello.device_id = "dev-frag"
        f.hello.platform = pb.PLATFORM_DESKTOP
        data = f.SerializeToString()
        parts = [data[i:i + 100] for i in range(0, len(data), 100)]
        c.ws.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, parts[0]))
        for i, p in enumerate(parts[1:]):
            fin = 1 if i == len(parts) - 2 else 0
            c.ws.send_frame(websocket.ABNF(fin, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, p))
        r = c.recv()
        self.assertEqual(r.WhichOneof("body"), "welcome", r)
        self.assertEqual(r.welcome.user_id, "alice")
        # the largest control frame (125 bytes of payload) still fits the buffer whole
        payload = bytes(range(125))
        c.ws.ping(payload)
        while True:
            op, got = c.ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_PONG:
                break
        self.assertEqual(got, payload)
        c.close()

    def test_unknown_app(self):
        self.refused(self.s.token("alice"), E.UNKNOWN_APP, app={"app_id": "app_nope"})

    def test_empty_token(self):
        self.refused("", E.MISSING_FIELD)

    def test_audience_and_issuer(self):
        app = self.s.create_app("aud", "--audience", "shop-1", "--issuer", "https://shop")
        secret = app["jwt_secret"]
        good = jwt.encode(self.claims(aud="shop-1", iss="https://shop"), secret, algorithm="HS256")
        c = Client(self.s)
        self.assertEqual(c.hello(good, app=app).WhichOneof("body"), "welcome")
        c.close()
        # soukctl signs with the app's audience and issuer
        c = Client(self.s)
        self.assertEqual(c.hello(self.s.token("bob", app=app), app=app).WhichOneof("body"),
                         "welcome")
        c.close()
        for bad in (self.claims(aud="shop-2", iss="https://shop"),
                    self.claims(iss="https://shop"),
                    self.claims(aud="shop-1", iss="https://evil")):
            self.refused(jwt.encode(bad, secret, algorithm="HS256"), E.TOKEN_CLAIMS, app=app)

    def test_first_frame_not_hello(self):
        c = Client(self.s)
        f = pb.Frame()
        f.ping.client_time_ms = 1
        c.send(f)
        r = c.recv()
        self.assertEqual(r.error.code, E.AUTH_REQUIRED)
        self.assertEqual(c.expect_close()[0], 4401)

    def test_unsupported_version(self):
        c = Client(self.s)
        r = c.hello(self.s.token("alice"), version=2)
        self.assertEqual(r.error.code, E.UNSUPPORTED_VERSION)
        self.assertEqual(c.expect_close()[0], 4401)

    def test_hello_twice(self):
        c = Client(self.s)
        c.login("alice")
        r = c.hello(self.s.token("alice"))
        self.assertEqual(r.error.code, E.UNEXPECTED_FRAME)
        self.assertEqual(c.expect_close()[0], 4400)

    def test_failed_auth_leaves_others_served(self):
        good = Client(self.s)
        good.login("carol")
        conv = good.open_support()
        for tok in ("garbage", jwt.encode(self.claims(), None, algorithm="none")):
            self.refused(tok, E.TOKEN_INVALID)
        ack = good.send_text(conv.conversation_id, "still here")
        self.assertEqual(ack.WhichOneof("body"), "send_ack")
        good.close()


if __name__ == "__main__":
    unittest.main()
