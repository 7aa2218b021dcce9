"""Small measuring helpers for the proxy workloads (bench/peers.sh).

  peertool.py waitport PORT SECONDS      exit 0 once 127.0.0.1:PORT accepts
  peertool.py cpu PID                    CPU seconds (user+system) of PID and
                                         its descendants, from /proc/*/stat
  peertool.py rss PID                    resident bytes of PID + descendants
  peertool.py tree PID                   PID and its descendants
  peertool.py idle PID MODE PORT ORIGIN_PORT N SETTLE
        RSS of the proxy tree idle, then with N client connections held open
        after one small request each (MODE http: absolute-form GET to the
        proxy; connect: HTTP CONNECT to the origin then GET; socks5: SOCKS5
        CONNECT to the origin then GET; tcp: GET through a TCP relay), as JSON. Every connection is closed before exit and the
        whole run is bounded by time.
"""
import json
import os
import resource
import socket
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children():
    """parent pid -> [child pids] for every process now."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(pid):
    kids = children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid):
    """User+system time of pid and its descendants: each process's utime +
    stime (all its threads, also those that exited) + cutime + cstime (its
    children that exited and were waited for: per-connection processes)."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state); utime, stime, cutime, cstime are 14-17.
        total += sum(int(x) for x in fields[11:15])
    return total / TICK


def rss_bytes(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
    return total


def wait_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return 0
        except OSError:
            time.sleep(0.05)
    return 1


def read_response(s, deadline):
    """Read one HTTP response with Content-Length; True when complete."""
    buf = b""
    while time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            return False
        buf += chunk
        head, sep, body = buf.partition(b"\r\n\r\n")
        if not sep:
            continue
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                if len(body) >= int(line.split(b":", 1)[1]):
                    return True
    return False


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def recv_head(s):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed")
        head += chunk
    return head


def steps(mode, origin_port, deadline):
    """(bytes to send, check of the reply) for each step of opening one
    connection in mode; the last step is one small GET."""
    path = "/small"
    out = []
    if mode == "http":
        path = f"http://127.0.0.1:{origin_port}/small"
    elif mode == "connect":
        def connect_ok(s):
            head = recv_head(s)
            if not head.startswith(b"HTTP/1.") or head[9:10] != b"2":
                raise OSError("CONNECT refused")
        out.append((f"CONNECT 127.0.0.1:{origin_port} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{origin_port}\r\n\r\n".encode(), connect_ok))
    elif mode == "socks5":
        def greet_ok(s):
            if recv_exact(s, 2) != b"\x05\x00":
                raise OSError("socks5 greeting refused")

        def connect_ok(s):
            if recv_exact(s, 10)[1] != 0:
                raise OSError("socks5 connect refused")
        out.append((b"\x05\x01\x00", greet_ok))
        out.append((b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1")
                    + origin_port.to_bytes(2, "big"), connect_ok))

    def get_ok(s):
        if not read_response(s, deadline):
            raise OSError("no complete response")
    out.append((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\n\r\n".encode(),
                get_ok))
    return out


def open_batch(mode, port, origin_port, k, deadline):
    """Open k connections at once, each step in lockstep across the batch
    (all sends, then all replies): one round trip per step, not per
    connection. Returns (sockets that completed, failures)."""
    socks, errors = [], 0
    for _ in range(k):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError:
            errors += 1
    for data, check in steps(mode, origin_port, deadline):
        sent = []
        for s in socks:
            try:
                s.sendall(data)
                sent.append(s)
            except OSError:
                s.close()
                errors += 1
        socks = []
        for s in sent:
            try:
                check(s)
                socks.append(s)
            except OSError:
                s.close()
                errors += 1
    return socks, errors


def idle(pid, mode, port, origin_port, n, settle):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
    # Warm the proxy (pools, first-use allocations) with a few connections.
    deadline = time.monotonic() + 120
    warm, errors = open_batch(mode, port, origin_port, 5, deadline)
    for s in warm:
        s.close()
    if errors:
        raise SystemExit(f"idle: {mode} through port {port} fails")
    time.sleep(settle)
    idle_rss = rss_bytes(pid)
    socks, errors = [], 0
    try:
        while len(socks) + errors < n and time.monotonic() < deadline:
            got, failed = open_batch(mode, port, origin_port, min(100, n - len(socks) - errors),
                                     deadline)
            socks += got
            errors += failed
        time.sleep(settle)
        # Every connection still open (the proxy has not dropped them).
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += 0 if s.recv(1) == b"" else 1
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        loaded_rss = rss_bytes(pid)
    finally:
        for s in socks:
            s.close()
    per = (loaded_rss - idle_rss) / alive if alive else None
    print(json.dumps({"idle_rss": idle_rss, "loaded_rss": loaded_rss, "held": alive,
                      "errors": errors, "bytes_per_conn": per}))
    return 0 if alive == n else 1


def main(argv):
    cmd = argv[1]
    if cmd == "waitport":
        return wait_port(int(argv[2]), float(argv[3]))
    if cmd == "cpu":
        print(f"{cpu_seconds(int(argv[2])):.2f}")
        return 0
    if cmd == "tree":
        print(" ".join(str(p) for p in tree(int(argv[2]))))
        return 0
    if cmd == "rss":
        print(rss_bytes(int(argv[2])))
        return 0
    if cmd == "idle":
        return idle(int(argv[2]), argv[3], int(argv[4]), int(argv[5]), int(argv[6]),
                    float(argv[7]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
