#!/usr/bin/env python3
"""A slow, lossy TCP path: the fleet test puts it between one service host and the servers.

Every chunk read from either side reaches the other side 100 ms +- 50 ms
later (in order), and one connection in 20 (5 %) is cut with a TCP reset
at a random moment of its first seconds, both towards the client and the
server. Standard library only (asyncio).

It runs in a namespace of its own that reaches the servers, and listens
inside the service host's namespace (--listen-netns), on the servers' own
addresses, which that host has on its loopback interface: everything the
host sends to a server, including the Redis Cluster nodes it learns from
CLUSTER SLOTS, enters the proxy, which connects to the same address and
port from its own namespace.

  fleet_proxy.py --listen-netns skf-h3 --target 10.77.0.20:7001 --target 10.77.0.30:6432 \\
                 --stats /tmp/proxy.json

Writes its counters (connections, cut, chunks, bytes) as JSON to --stats
every half second and on SIGTERM.
"""

import argparse
import asyncio
import ctypes
import json
import os
import random
import signal
import socket
import struct
import time

CLONE_NEWNET = 0x40000000


def listening_sockets(netns, targets):
    """Opens one listening socket per target inside `netns`, then comes back to our own namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if libc.setns(there, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns into {netns}")
    try:
        sockets = []
        for host, port in targets:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(256)
            sock.setblocking(False)
            sockets.append(sock)
        return sockets
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(home)
        os.close(there)


class Proxy:
    def __init__(self, args):
        self.delay = args.delay_ms / 1000
        self.jitter = args.jitter_ms / 1000
        self.cut_every = args.cut_every
        self.random = random.Random(args.seed)
        self.stats = {"connections": 0, "cut": 0, "upstream_failures": 0, "chunks": 0, "bytes": 0, "open": 0}
        self.owed = 0  # cuts due: one every `cut_every` connections

    async def serve(self, listener, target):
        loop = asyncio.get_running_loop()
        tasks = set()
        while True:
            client, _ = await loop.sock_accept(listener)
            task = asyncio.create_task(self.connection(client, target))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def connection(self, client, target):
        loop = asyncio.get_running_loop()
        self.stats["connections"] += 1
        number = self.stats["connections"]
        client.setblocking(False)
        if self.cut_every and number % self.cut_every == 0:
            self.owed += 1
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(upstream, target), 10)
        except (OSError, asyncio.TimeoutError):
            self.stats["upstream_failures"] += 1
            reset(client)
            upstream.close()
            return
        self.stats["open"] += 1
        pumps = [asyncio.create_task(self.pump(client, upstream)), asyncio.create_task(self.pump(upstream, client))]
        # One connection in `cut_every` is cut after 0.2 to 3 s; a doomed
        # connection that ends first passes its cut on to the next one.
        doomed = self.owed > 0
        if doomed:
            self.owed -= 1
        done, pending = await asyncio.wait(
            pumps, timeout=self.random.uniform(0.2, 3.0) if doomed else None, return_when=asyncio.FIRST_EXCEPTION)
        failed = any(task.exception() for task in done)
        cut = bool(pending) and not failed
        if cut:
            self.stats["cut"] += 1
        elif doomed:
            self.owed += 1
        # Cut on purpose, or one side reset or vanished: the other side gets a reset too.
        broken = cut or failed
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.stats["open"] -= 1
        for sock in (client, upstream):
            if broken:
                reset(sock)
            else:
                sock.close()

    async def pump(self, source, destination):
        """Copies source to destination, each chunk delayed, order kept; raises OSError when a side breaks."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    try:
                        destination.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                await loop.sock_sendall(destination, data)

        writer = asyncio.create_task(deliver())
        last_due = 0.0
        try:
            while True:
                data = await loop.sock_recv(source, 65536)
                due = max(last_due, time.monotonic() + self.random.uniform(self.delay - self.jitter, self.delay + self.jitter))
                last_due = due
                if not data:
                    queue.put_nowait((due, None))
                    break
                self.stats["chunks"] += 1
                self.stats["bytes"] += len(data)
                queue.put_nowait((due, data))
            await writer
        finally:
            writer.cancel()


def reset(sock):
    """Closes with a TCP reset (SO_LINGER 0), as a broken path would look to both ends."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen-netns", required=True)
    parser.add_argument("--target", action="append", required=True, help="host:port, listened on and forwarded to")
    parser.add_argument("--delay-ms", type=float, default=100)
    parser.add_argument("--jitter-ms", type=float, default=50)
    parser.add_argument("--cut-every", type=int, default=20, help="cut one connection in N (0: none)")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()
    targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in args.target]
    listeners = listening_sockets(args.listen_netns, targets)
    proxy = Proxy(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    for listener, target in zip(listeners, targets):
        asyncio.create_task(proxy.serve(listener, target))

    def write_stats():
        temporary = args.stats + ".tmp"
        with open(temporary, "w") as file:
            json.dump(proxy.stats, file)
        os.replace(temporary, args.stats)

    write_stats()  # also says the listeners are up
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
        write_stats()


if __name__ == "__main__":
    asyncio.run(main())
