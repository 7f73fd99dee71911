"""Cutting a model response short, from any thread (Stop, the first-token deadline).

The streams call ``hard_close`` on the SDK stream they are reading; it has its
own module because what it does is about sockets and the HTTP connection pool,
not about the model's events.
"""
from __future__ import annotations

import socket


def hard_close(stream) -> None:
    """Close the model's HTTP response, also from another thread (Stop, the first-token deadline).

    ``Stream.close()`` alone does not wake a thread blocked reading the socket
    (a model that has not sent its first token yet); shutting the socket down
    does, so a Stop takes effect at once and the server sees the client leave,
    which is what ends generation and billing. The reading thread then closes
    the connection itself: closing its file descriptor from here would free the
    number while that thread may be about to wait on it, and a socket opened
    meanwhile (a Slack call) would take the number, so the reader would wait on
    a stranger's connection until its read timeout (seen: a Stop that took 60 s).
    Only a response still being read is cut that way: a finished one's
    connection belongs to the pool.
    """
    try:
        if stream.response.is_closed:
            # Read to the end: httpx has put the connection back in the pool, and
            # another answer may be using it now. Shutting it down would break that one.
            stream.close()
            return
        network = stream.response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            return  # (the reader wakes with the connection closed and closes the response)
    except (AttributeError, OSError):
        pass
    stream.close()
