"""A byte relay between TCP and a Unix socket, to reach the server under test
from inside a private network namespace (see ./run).

    relay.py unix-to-tcp SOCKET HOST PORT
        listens on the Unix socket SOCKET, connects each client to HOST:PORT;
    relay.py tcp-to-unix SOCKET ADDR PORT [ADDR PORT ...]
        listens on each ADDR:PORT, connects each client to SOCKET.

Bytes are copied unchanged in both directions; a half-close is passed on
(gRPC streams end that way). Prints "ready" once every listener is bound.
Standard library only.
"""

import asyncio
import socket
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def serve(connect, client_reader, client_writer):
    try:
        server_reader, server_writer = await connect()
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pipe(client_reader, server_writer),
        pipe(server_reader, client_writer),
    )
    server_writer.close()
    client_writer.close()


async def main(argv):
    mode, path = argv[0], argv[1]
    servers = []
    if mode == "unix-to-tcp":
        host, port = argv[2], int(argv[3])

        def connect():
            return asyncio.open_connection(host, port)

        servers.append(
            await asyncio.start_unix_server(
                lambda r, w: serve(connect, r, w), path=path
            )
        )
    elif mode == "tcp-to-unix":

        def connect():
            return asyncio.open_unix_connection(path)

        pairs = argv[2:]
        for addr, port in zip(pairs[0::2], pairs[1::2]):
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            try:
                servers.append(
                    await asyncio.start_server(
                        lambda r, w: serve(connect, r, w),
                        host=addr,
                        port=int(port),
                        family=family,
                        reuse_address=True,
                    )
                )
            except OSError as e:
                # No IPv6 on this host: clients fall back to IPv4.
                if family != socket.AF_INET6:
                    raise
                print("not listening on [%s]:%s: %s" % (addr, port, e),
                      file=sys.stderr)
    else:
        sys.exit("usage: relay.py unix-to-tcp|tcp-to-unix SOCKET ...")
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
