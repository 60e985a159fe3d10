"""A platform's webhook receiver for the end-to-end tests: every delivery is verified with
the `standardwebhooks` package (an implementation independent of Guildbridge's).

    POST /configure/<name>  {"secret": "whsec_...", "fail": 3}   set a receiver's secret and
                                                                  how many deliveries to answer 500
    POST /hooks/<name>      a delivery: verified, recorded, answered 204 (or 500 while failing;
                            401 when the signature does not verify)
    GET  /received          every delivery so far, with whether it verified
    POST /verify            {"secret", "headers", "body"}: whether the verifier accepts it

It prints its port on the first line of stdout, then serves until killed.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
receivers = {}  # name -> {"secret": str, "fail": int}
received = []


def verified(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except (WebhookVerificationError, ValueError):
        return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, payload=None):
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read(self):
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def do_GET(self):
        if self.path == "/received":
            with lock:
                return self.answer(200, list(received))
        self.answer(404)

    def do_POST(self):
        body = self.read()
        parts = self.path.strip("/").split("/")
        if parts[0] == "configure" and len(parts) == 2:
            config = json.loads(body)
            with lock:
                receivers[parts[1]] = {"secret": config["secret"], "fail": int(config.get("fail", 0))}
            return self.answer(204)
        if parts[0] == "verify":
            request = json.loads(body)
            return self.answer(200, {"ok": verified(request["secret"], request["body"], request["headers"])})
        if parts[0] == "hooks" and len(parts) == 2:
            headers = {name.lower(): value for name, value in self.headers.items()}
            with lock:
                config = receivers.get(parts[1])
                ok = config is not None and verified(config["secret"], body, headers)
                failing = ok and config["fail"] > 0
                if failing:
                    config["fail"] -= 1
                received.append({
                    "receiver": parts[1],
                    "webhook_id": headers.get("webhook-id"),
                    "timestamp": headers.get("webhook-timestamp"),
                    "signature": headers.get("webhook-signature"),
                    "verified": ok,
                    "answered": 500 if failing else (204 if ok else 401),
                    "body": body.decode(),
                })
            return self.answer(500 if failing else (204 if ok else 401))
        self.answer(404)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
