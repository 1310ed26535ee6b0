"""A user-space delay line for the network lab (tests/support/topology.ts): this kernel has no
sch_netem, so a home's added round-trip time is made here.

Runs inside a home's namespace. It owns a TUN device that the home's default route points at:
every IP packet leaving the home is read from it, held for the given delay, then sent out of
the home's ethernet device to its router's MAC address. Packets coming in are not touched, so
the whole delay is on the way out (a round trip through this home gains exactly `delay_ms`).

    python3 delay-line.py <tun name> <out device> <router MAC> <delay ms>

Prints "ready" once the TUN device exists; runs until killed (the lab's teardown kills every
process in its namespaces).
"""
import collections
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
ETH_P_IP = 0x0800


def main() -> None:
    tun_name, out_device, router_mac, delay_ms = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    delay = delay_ms / 1000
    tun = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', tun_name.encode(), IFF_TUN | IFF_NO_PI))
    out = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    destination = (out_device, ETH_P_IP, 0, 0, bytes.fromhex(router_mac.replace(':', '')))
    held: collections.deque[tuple[float, bytes]] = collections.deque()
    print('ready', flush=True)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        readable, _, _ = select.select([tun], [], [], timeout)
        if readable:
            due = time.monotonic() + delay
            # Everything waiting now, in one go: one select per packet would cost more than the packet.
            while True:
                try:
                    held.append((due, os.read(tun, 65536)))
                except BlockingIOError:
                    break
        now = time.monotonic()
        while held and held[0][0] <= now:
            try:
                out.sendto(held.popleft()[1], destination)
            except OSError as error:
                # A full device queue drops the packet, as a router would: said, not hidden.
                print(f'delay line: a packet was dropped: {error}', file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
