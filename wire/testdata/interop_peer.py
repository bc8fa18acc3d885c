#!/usr/bin/python3
"""Interop peer for wire's tests, built on Python websockets (Debian python3-websockets 10.4).

  interop_peer.py server [--no-compression]
      Echo server on 127.0.0.1, port printed as "PORT <n>". Commands in text messages:
        cmd:close:<code>:<reason>  close the connection with that code and reason
        cmd:ping:<payload>         ping the client; after its pong, send "pong-received"
      When a client closes, prints "CLOSED <code> <reason>". Exits when stdin closes.

  interop_peer.py client <url> <client-close|server-close> [--no-compression] [--no-big]
      Runs the scenario against wire's echo server (same commands) and prints
      "CLOSED <code> <reason>" for the close it saw, then "OK". Any mismatch exits 1.
      --no-big leaves out the 4 MiB messages.
"""
import asyncio
import os
import random
import sys

import websockets

TIMEOUT = 20


def compression(args):
    return None if "--no-compression" in args else "deflate"


async def serve(args):
    async def handler(ws, path=None):
        try:
            async for msg in ws:
                if isinstance(msg, str) and msg.startswith("cmd:close:"):
                    _, _, code, reason = msg.split(":", 3)
                    await ws.close(int(code), reason)
                    return
                if isinstance(msg, str) and msg.startswith("cmd:ping:"):
                    waiter = await ws.ping(msg[len("cmd:ping:"):].encode())
                    await asyncio.wait_for(waiter, TIMEOUT)
                    await ws.send("pong-received")
                    continue
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            print("CLOSED %s %s" % (ws.close_code, ws.close_reason or ""), flush=True)

    async with websockets.serve(handler, "127.0.0.1", 0, compression=compression(args),
                                max_size=16 << 20) as server:
        port = server.sockets[0].getsockname()[1]
        print("PORT %d" % port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def fail(why):
    print("FAIL " + why, flush=True)
    sys.exit(1)


async def client(url, mode, args):
    rnd = random.Random(7)
    big_text = "abcdefghij κόσμε € " * 160000  # about 4 MiB of UTF-8
    messages = [
        "hello", "", b"", bytes(rnd.getrandbits(8) for _ in range(64 << 10)),
        big_text, os.urandom(4 << 20),
    ]
    if "--no-big" in args:  # the Go side runs under the race detector
        messages = [m for m in messages if len(m) <= 1 << 20]
    async with websockets.connect(url, compression=compression(args), max_size=16 << 20,
                                  open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        for m in messages:
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if type(got) is not type(m) or got != m:
                fail("echo of %d %s differs" % (len(m), type(m).__name__))
        # Fragmented messages: an iterable is sent as one message in several frames.
        for parts in (["frag", "ment", "ed κόσμε"], [b"\x00\x01", b"", b"\xff" * 70000]):
            await ws.send(parts)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != parts[0][:0].join(parts):
                fail("fragmented echo differs")
        pong = await ws.ping(b"py-ping")
        await asyncio.wait_for(pong, TIMEOUT)
        await ws.send("cmd:ping:srv")
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        if got != "pong-received":
            fail("after server ping got %r" % got)
        if mode == "client-close":
            await ws.close(4000, "py client bye")
        else:
            await ws.send("cmd:close:4001:server bye")
            try:
                got = await asyncio.wait_for(ws.recv(), TIMEOUT)
                fail("message %r instead of the close" % got)
            except websockets.ConnectionClosed:
                pass
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        print("CLOSED %s %s" % (ws.close_code, ws.close_reason or ""), flush=True)
    print("OK", flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "server":
        asyncio.run(serve(args[1:]))
    elif len(args) >= 3 and args[0] == "client":
        asyncio.run(client(args[1], args[2], args[3:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
