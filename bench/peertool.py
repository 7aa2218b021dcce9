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


def open_one(mode, port, origin_port, deadline):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    path = "/small"
    if mode == "http":
        path = f"http://127.0.0.1:{origin_port}/small"
    elif mode == "connect":
        s.sendall(f"CONNECT 127.0.0.1:{origin_port} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{origin_port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("CONNECT: closed")
            head += chunk
        if not head.startswith(b"HTTP/1.") or head[9:10] != b"2":
            raise OSError("CONNECT refused")
    elif mode == "socks5":
        s.sendall(b"\x05\x01\x00")
        if s.recv(2) != b"\x05\x00":
            raise OSError("socks5 greeting refused")
        s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1")
                  + origin_port.to_bytes(2, "big"))
        rep = b""
        while len(rep) < 10:
            chunk = s.recv(10 - len(rep))
            if not chunk:
                raise OSError("socks5 connect: closed")
            rep += chunk
        if rep[1] != 0:
            raise OSError(f"socks5 connect: reply {rep[1]}")
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{origin_port}\r\n\r\n".encode())
    if not read_response(s, deadline):
        raise OSError("no complete response")
    return s


def idle(pid, mode, port, origin_port, n, settle):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
    # Warm the proxy (pools, first-use allocations) with a few connections.
    deadline = time.monotonic() + 120
    for _ in range(5):
        open_one(mode, port, origin_port, deadline).close()
    time.sleep(settle)
    idle_rss = rss_bytes(pid)
    socks, errors = [], 0
    try:
        for _ in range(n):
            if time.monotonic() > deadline:
                break
            try:
                socks.append(open_one(mode, port, origin_port, deadline))
            except OSError:
                errors += 1
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
