"""Where the SIA receiver listens: its configured addresses, parsed, and its sockets, bound.

Apart from the receiver (:mod:`.sia`) because two owners bind: the receiver itself, and the
parent of a receiver run in a process of its own (:mod:`.sia_process`), which binds once and
hands the sockets to each child it starts, so a bind error is the parent's and the kernel
keeps queueing panels' connections while a child is restarted.
"""

from __future__ import annotations

import socket

from tocsin.errors import ConfigError

__all__ = ("BACKLOG", "SiaSockets", "bind_sockets", "parse_address")


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``; an empty host is every interface) of ``sia.{what}``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"sia.{what} must be 'host:port', got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


BACKLOG = 1024
"""Connections the kernel queues before they are accepted: panels reconnect all at once after an outage."""

SiaSockets = tuple[socket.socket | None, socket.socket | None]
"""The receiver's bound TCP (listening) and UDP sockets, None where not configured."""


def bind_sockets(tcp_address: str | None, udp_address: str | None) -> SiaSockets:
    """Bind the configured TCP and UDP addresses (``sia.tcp``, ``sia.udp``; None: not served).

    Raises:
        ConfigError: a bad ``host:port``, or an address that cannot be bound (in use, not local...).
    """
    tcp_addr = parse_address(tcp_address, "tcp") if tcp_address else None
    udp_addr = parse_address(udp_address, "udp") if udp_address else None
    tcp: socket.socket | None = None
    udp: socket.socket | None = None
    try:
        if tcp_addr is not None:
            tcp = socket.create_server(tcp_addr, family=_family(tcp_addr), backlog=BACKLOG)
        if udp_addr is not None:
            udp = socket.socket(_family(udp_addr), socket.SOCK_DGRAM)
            udp.bind(udp_addr)
    except OSError as exc:
        for sock in (tcp, udp):
            if sock is not None:
                sock.close()
        raise ConfigError(f"SIA receiver cannot listen: {exc.strerror or exc}") from exc
    return tcp, udp


def _family(addr: tuple[str, int]) -> socket.AddressFamily:
    """IPv4 or IPv6, as the host resolves (first answer); raises ``socket.gaierror`` (an OSError)."""
    return socket.getaddrinfo(*addr, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
