"""A full chat.v1 session driven by Python websockets (10.x), a client nobody in this
project wrote. Run by e2e_python_test.go as: python3 e2e_session.py ws://127.0.0.1:PORT/ws

Prints "ok" and exits 0 when every step behaved as PROTOCOL.md says; otherwise prints
what differed and exits 1.
"""

import asyncio
import json
import re
import sys

import websockets

URL = sys.argv[1]
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


async def recv(ws, want_type):
    raw = await asyncio.wait_for(ws.recv(), 10)
    check(isinstance(raw, str), f"binary message: {raw!r}")
    msg = json.loads(raw)
    check(msg.get("type") == want_type, f"want {want_type}, got {raw}")
    check(TS.match(msg.get("ts", "")), f"bad ts in {raw}")
    if want_type in ("join", "leave", "chat", "pm"):
        check(ULID.match(msg.get("id", "")), f"bad id in {raw}")
    return msg


async def send(ws, **msg):
    await ws.send(json.dumps(msg))


async def main():
    async with websockets.connect(URL, subprotocols=["chat.v1"]) as alice:
        check(alice.subprotocol == "chat.v1", f"subprotocol {alice.subprotocol!r}")
        ext = alice.response_headers.get("Sec-WebSocket-Extensions", "")
        check("permessage-deflate" in ext, f"permessage-deflate not negotiated: {ext!r}")

        await send(alice, type="join", name="Alice", ref="a1")
        w = await recv(alice, "welcome")
        check(w["name"] == "Alice" and ULID.match(w["session"]), f"welcome {w}")
        check(set(w["limits"]) >= {"max_message_bytes", "max_text_chars", "rate_per_sec", "rate_burst"}, f"limits {w}")
        p = await recv(alice, "presence")
        check(p["room"] == "lobby" and p["users"] == ["Alice"] and p.get("ref") == "a1", f"presence {p}")
        j = await recv(alice, "join")
        check(j["from"] == "Alice" and j.get("ref") == "a1", f"join {j}")

        # A second client that offers no subprotocol is served chat.v1 anyway.
        async with websockets.connect(URL) as bob:
            check(bob.subprotocol is None, f"bob subprotocol {bob.subprotocol!r}")
            await send(bob, type="join", name="bob")
            await recv(bob, "welcome")
            p = await recv(bob, "presence")
            check(p["users"] == ["Alice", "bob"], f"bob presence {p}")
            check("ref" not in p, f"ref without one sent: {p}")
            jb = await recv(bob, "join")
            ja = await recv(alice, "join")
            check(ja["id"] == jb["id"] and "ref" not in ja, f"alice's copy {ja} vs {jb}")
            check(ja["id"] > j["id"], "ids not increasing")

            big = "snake " * 600  # 3600 characters, compressed on the wire both ways
            await send(alice, type="chat", text=big, ref="c1")
            mine = await recv(alice, "chat")
            theirs = await recv(bob, "chat")
            check(mine.get("ref") == "c1" and "ref" not in theirs, f"chat refs {mine.get('ref')} {theirs.get('ref')}")
            check(theirs["text"] == big and theirs["from"] == "Alice", "chat text")

            await send(bob, type="typing", to="alice", active=True)
            t = await recv(alice, "typing")
            check(t["from"] == "bob" and t["active"] is True and t["to"] == "Alice", f"typing {t}")

            await send(bob, type="pm", to="ALICE", text="psst", ref="p1")
            pb = await recv(bob, "pm")
            # the pm ends bob's indicator towards alice: she gets active false and the pm
            got = [await recv_any(alice), await recv_any(alice)]
            pa = next(m for m in got if m["type"] == "pm")
            off = next(m for m in got if m["type"] == "typing")
            check(off["active"] is False and off["from"] == "bob", f"typing off {off}")
            check(pa["id"] == pb["id"] and pb.get("ref") == "p1" and "ref" not in pa, f"pm {pa} {pb}")
            check(pa["to"] == "Alice" and pa["from"] == "bob", f"pm names {pa}")

            await send(bob, type="pm", to="carol", text="hi", ref="p2")
            e = await recv(bob, "error")
            check(e["code"] == "unknown_user" and e.get("ref") == "p2", f"error {e}")

            await send(bob, type="leave", room="lobby", ref="l1")
            lb = await recv(bob, "leave")
            la = await recv(alice, "leave")
            check(lb.get("ref") == "l1" and lb["reason"] == "left" and "ref" not in la and la["id"] == lb["id"], f"leave {lb} {la}")

        await send(alice, type="leave")
        try:
            while True:
                await asyncio.wait_for(alice.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        check(alice.close_code == 1000 and alice.close_reason == "bye", f"close {alice.close_code} {alice.close_reason!r}")


async def recv_any(ws):
    raw = await asyncio.wait_for(ws.recv(), 10)
    return json.loads(raw)


try:
    asyncio.run(main())
except Mismatch as m:
    print(f"mismatch: {m}")
    sys.exit(1)
print("ok")
