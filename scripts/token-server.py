#!/usr/bin/env python3
"""A minimal Docker registry token server, for strata's tests only.

Implements the token endpoint of docker's token authentication spec
(distribution/docs/spec/auth/token.md) well enough for docker-registry's
`auth: token:` mode:

  GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]
      Authorization: Basic <user:password>   (optional)

Valid credentials get every action they ask for; no credentials get a token
with no access (the registry then answers 401, as for an anonymous user of a
private registry); wrong credentials get 401. Tokens are ES256 JWTs whose
header carries the signing certificate (x5c), which the registry checks
against its `rootcertbundle`. Signing uses the `openssl` command, so only
the Python standard library is needed.

Listens on 127.0.0.1 only. Usage:
  token-server.py --listen 127.0.0.1:5103 --key key.pem --cert cert.pem \
      --issuer I --service S --user U --password P
"""

import argparse
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse
import uuid


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_sig_to_raw(der: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r||s (32+32)."""
    if der[0] != 0x30:
        raise ValueError("not a DER sequence")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise ValueError("not a DER integer")
        n = der[i + 1]
        v = der[i + 2 : i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


class Issuer:
    def __init__(self, args):
        self.args = args
        pem = open(args.cert).read()
        body = "".join(l for l in pem.splitlines() if "CERTIFICATE" not in l)
        self.x5c = [body]  # standard base64 of the DER certificate

    def sign(self, payload: bytes) -> bytes:
        der = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.args.key],
            input=payload,
            capture_output=True,
            check=True,
        ).stdout
        return der_sig_to_raw(der)

    def token(self, subject: str, access: list) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        claims = {
            "iss": self.args.issuer,
            "sub": subject,
            "aud": self.args.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "access": access,
        }
        signing = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        return signing + "." + b64url(self.sign(signing.encode()))


def make_handler(issuer: Issuer, args):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            sys.stderr.write("token-server: " + (fmt % a) + "\n")

        def reply(self, code: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                return self.reply(404, {"error": "not found"})
            q = urllib.parse.parse_qs(url.query)
            subject = ""
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                except Exception:
                    return self.reply(400, {"error": "bad Authorization header"})
                if user != args.user or password != args.password:
                    return self.reply(401, {"details": "incorrect username or password"})
                subject = user
            access = []
            if subject:
                for scope in q.get("scope", []):
                    for one in scope.split(" "):
                        parts = one.split(":")
                        if len(parts) >= 3 and parts[0] == "repository":
                            name = ":".join(parts[1:-1])
                            actions = [a for a in parts[-1].split(",") if a]
                            access.append({"type": "repository", "name": name, "actions": actions})
            t = issuer.token(subject, access)
            self.reply(
                200,
                {
                    "token": t,
                    "access_token": t,
                    "expires_in": 300,
                    "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )

    return Handler


def main():
    p = argparse.ArgumentParser()
    for a in ("--listen", "--key", "--cert", "--issuer", "--service", "--user", "--password"):
        p.add_argument(a, required=True)
    args = p.parse_args()
    host, port = args.listen.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("token-server: listens on loopback only")
    server = http.server.ThreadingHTTPServer((host, int(port)), make_handler(Issuer(args), args))
    server.serve_forever()


if __name__ == "__main__":
    main()
