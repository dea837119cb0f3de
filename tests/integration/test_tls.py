"""TLS: with a certificate and key configured soukd serves wss:// (TLS 1.2+ only)."""
import os
import ssl
import subprocess
import unittest

import websocket

from souk_harness import Server, pb


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cert = os.path.join(cls.s.dir, "cert.pem")
        key = os.path.join(cls.s.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        cls.cert = cert
        cls.s.config.update({"tls_cert": cert, "tls_key": key})
        cls.s.start_tls = True
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_wss_hello_welcome(self):
        ws = websocket.WebSocket(sslopt={"ca_certs": self.cert, "cert_reqs": ssl.CERT_REQUIRED})
        ws.connect("wss://127.0.0.1:%d/v1/ws" % self.s.port, subprotocols=["souk.v1"], timeout=10)
        f = pb.Frame()
        f.request_id = 1
        f.hello.protocol_version = 1
        f.hello.app_id = self.s.app["app_id"]
        f.hello.token = self.s.token("alice")
        f.hello.device_id = "d"
        ws.send(f.SerializeToString(), opcode=websocket.ABNF.OPCODE_BINARY)
        r = pb.Frame()
        r.ParseFromString(ws.recv())
        self.assertEqual(r.WhichOneof("body"), "welcome")
        self.assertIn(ws.sock.version(), ("TLSv1.2", "TLSv1.3"))
        ws.close()

    def test_tls_1_1_is_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        import socket
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as raw:
            with self.assertRaises((ssl.SSLError, OSError)):
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    tls.recv(100)

    def test_plain_connection_to_tls_port_fails(self):
        with self.assertRaises(Exception):
            ws = websocket.WebSocket()
            ws.connect("ws://127.0.0.1:%d/v1/ws" % self.s.port, subprotocols=["souk.v1"],
                       timeout=5)
            ws.recv()


if __name__ == "__main__":
    unittest.main()
