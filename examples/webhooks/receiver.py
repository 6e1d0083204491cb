"""A backend that receives a Characters server's webhooks: backend_rpc tool calls and session
events. Standard library only.

    WEBHOOK_SECRET=whsec_… python examples/webhooks/receiver.py     # http://127.0.0.1:8002

Point the organisation at it (plain http to loopback needs the server's development setting
CHARACTERS_WEBHOOK_ALLOW_HTTP_LOOPBACK=true; in production put it behind https)::

    curl -X PUT $CHARACTERS/v1/organization/webhooks -H "Authorization: Bearer $KEY" \\
      -H "X-Runway-Version: 2024-11-06" -H "Content-Type: application/json" \\
      -d '{"url": "http://127.0.0.1:8002/events", "backendRpcUrl": "http://127.0.0.1:8002/rpc"}'

Every request is verified first (``verify.py``); a bad or stale signature is answered 401.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from verify import InvalidSignature, verify  # noqa: E402

SECRET = os.environ.get("WEBHOOK_SECRET", "")
ORDERS = {4417: {"status": "shipped", "arrives": "Thursday"}}


def check_order(args: dict[str, Any]) -> dict[str, Any]:
    """A backend_rpc tool: the answer is the result the character speaks. A ``say`` field is
    said as it is; other fields the language model puts in its own words."""
    order = ORDERS.get(int(args.get("order_number", 0)))
    if order is None:
        return {"say": f"I can't find an order number {args.get('order_number')}."}
    return order


TOOLS = {"check_order": check_order}
seen: set[str] = set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            message_id = verify(SECRET, dict(self.headers.items()), body)
        except InvalidSignature as e:
            return self.reply(401, {"error": str(e)})
        message = json.loads(body)
        if self.path == "/rpc":
            tool = TOOLS.get(message["tool"])
            if tool is None:
                return self.reply(404, {"error": f"no tool {message['tool']}"})
            return self.reply(200, tool(message["args"]))
        if message_id not in seen:  # retries carry the same id
            seen.add(message_id)
            session = message["data"].get("session", {})
            print(message["type"], session.get("id"), session.get("status"), flush=True)  # noqa: T201
        return self.reply(204, None)

    def reply(self, status: int, data: Any) -> None:
        payload = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


if __name__ == "__main__":
    if not SECRET:
        sys.exit("set WEBHOOK_SECRET (GET /v1/organization/webhooks shows it)")
    port = int(os.environ.get("PORT", "8002"))
    print(f"listening on http://127.0.0.1:{port}", flush=True)  # noqa: T201
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
