#!/usr/bin/env python3
"""End-to-end scenarios for the status-light app (QEMU MPS2-AN386 firmware or the desktop runner).

Runs inside a network namespace that `embedded/run-e2e.sh` creates (the tap is 192.168.69.100/24,
the app is 192.168.69.2). It serves `/stream` as DESIGN.md section 3 describes (chunked HTTP/1.1,
`retry:`, `state`, `message` with `id: idx`, `heartbeat` every second, `session_ended`), starts the
runner, and checks what the runner prints. Each wait is bounded. Prints `N passed, N failed`.

Usage: sse_e2e.py <label> <command...>
"""
import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

BIND = ("192.168.69.100", 8000)
HEARTBEAT_S = 1.0
EPOCH = "e2e-epoch-1"


class Log:
    """The agent's message log and state, shared by all connections."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages = []
        self.state = {"agent_state": "Ready", "total_cost_usd": 0.0}
        self.state_version = 0
        self.ended = False
        self.silent = False
        self.generation = 0  # bumped when the server is "killed": handlers of older ones exit

    def append(self, content):
        with self.cond:
            idx = len(self.messages)
            self.messages.append(json.dumps({"type": "agent", "content": content, "idx": idx}, separators=(",", ":")))
            self.cond.notify_all()
            return idx

    def set_state(self, **fields):
        with self.cond:
            self.state.update(fields)
            self.state_version += 1
            self.cond.notify_all()

    def state_json(self):
        usage = {"total_cost_usd": self.state["total_cost_usd"], "input_tokens": 10, "output_tokens": 20}
        return json.dumps({"message_count": len(self.messages), "epoch": EPOCH, "title": "e2e",
                           "agent_state": self.state["agent_state"], "outstanding_llm_calls": 0,
                           "outstanding_tool_calls": [], "total_usage": usage,
                           "session_ended": self.ended, "can_send_messages": True,
                           "hostname": "e2e", "working_dir": "/tmp"}, separators=(",", ":"))


LOG = Log()
REQUESTS = []  # (from, last_event_id) per /stream request


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/stream":
            self.send_error(404)
            return
        q = parse_qs(url.query)
        start = int(q.get("from", ["0"])[0])
        lei = self.headers.get("Last-Event-ID")
        if lei is not None and lei.isdigit():
            start = max(start, int(lei) + 1)
        REQUESTS.append((q.get("from", ["0"])[0], lei))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gen = LOG.generation
        try:
            self.chunk(b"retry: 1000\n\n")
            sent_state = -1
            next_idx = start
            last_beat = time.monotonic()
            while True:
                with LOG.cond:
                    LOG.cond.wait(timeout=0.1)
                    if LOG.generation != gen:
                        return
                    if LOG.silent:
                        continue
                    out = []
                    if sent_state != LOG.state_version:
                        out.append(b"event: state\ndata: " + LOG.state_json().encode() + b"\n\n")
                        sent_state = LOG.state_version
                    while next_idx < len(LOG.messages):
                        out.append(b"event: message\nid: %d\ndata: %s\n\n" % (next_idx, LOG.messages[next_idx].encode()))
                        next_idx += 1
                    if LOG.ended:
                        out.append(b'event: session_ended\ndata: {"message":"bye"}\n\n')
                    if time.monotonic() - last_beat >= HEARTBEAT_S:
                        out.append(b"event: heartbeat\ndata: %d\n\n" % int(time.time()))
                        last_beat = time.monotonic()
                for frame in out:
                    self.chunk(frame)
                if LOG.ended:
                    self.chunk(b"")
                    return
        except OSError:
            return
        finally:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Quiet(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # resets from the client (watchdog, abort) are part of the scenarios


class Server:
    def __init__(self):
        self.httpd = None

    def start(self):
        self.httpd = Quiet(BIND, Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def kill(self):
        """Like a crashed server: stop listening and drop every open stream."""
        with LOG.cond:
            LOG.generation += 1
            LOG.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


class Runner:
    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.all.append(line)
            print("    | " + line, flush=True)
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, pattern, timeout):
        """Waits for a line matching `pattern`; returns the match or None."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            m = rx.search(line)
            if m:
                return m

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def main():
    label, cmd = sys.argv[1], sys.argv[2:]
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {name}{' (' + detail + ')' if detail and not ok else ''}", flush=True)
        return ok

    server = Server()
    for i in range(3):
        LOG.append(f"backlog {i}")
    LOG.set_state(agent_state="Ready", total_cost_usd=0.01)
    server.start()
    runner = Runner(cmd)
    try:
        # 1. backlog
        got = [runner.expect(r"message idx=%d " % i, 20) for i in range(3)]
        check("backlog 0..2 received", all(got))
        check("idle state shown", runner.expect(r"status link=connected .*activity=idle", 5) is not None)

        # 2. live updates
        LOG.set_state(agent_state="RunningTool", total_cost_usd=0.25)
        LOG.append("live 3")
        LOG.append("live 4")
        check("live messages 3, 4", runner.expect(r"message idx=3 ", 5) and runner.expect(r"message idx=4 ", 5))
        check("activity running_tool and cost shown",
              runner.expect(r"activity=running_tool .*cost=0\.2500", 5) is not None)

        # 3. server killed and restarted: reconnect resumes at 5 with Last-Event-ID 4
        server.kill()
        check("offline shown after the server died", runner.expect(r"status link=(offline|connecting)", 10) is not None)
        time.sleep(1.5)
        server.start()
        m = runner.expect(r"connect from=(\d+) last_event_id=(\S+)", 30)
        check("reconnect resumes at from=5, Last-Event-ID 4",
              m is not None and m.group(1) == "5" and m.group(2) == "4", m.group(0) if m else "no connect")
        check("connected again", runner.expect(r"status link=connected", 20) is not None)
        LOG.append("after restart 5")
        check("next message is 5 (no gap)", runner.expect(r"message idx=5 ", 5) is not None)

        # 4. silent server: the watchdog closes and the client reconnects
        with LOG.cond:
            LOG.silent = True
        m = runner.expect(r"reason=\"Connection timed out \(no heartbeat\)\"", 15)
        check("silent server trips the watchdog", m is not None)
        with LOG.cond:
            LOG.silent = False
            LOG.generation += 1  # the old, silent stream goes away
            LOG.cond.notify_all()
        m = runner.expect(r"connect from=(\d+)", 20)
        check("reconnect after watchdog resumes at 6", m is not None and m.group(1) == "6", m.group(0) if m else "")

        # 5. over-sized message: skipped but counted by its index
        LOG.append("x" * 6000)
        m = runner.expect(r"message idx=6 bytes=\d+ truncated=true", 10)
        check("over-sized message 6 counted, data cut", m is not None)
        check("oversized count shown", runner.expect(r"oversized=1 ", 5) is not None)
        LOG.append("after big 7")
        check("message 7 after the big one", runner.expect(r"message idx=7 ", 5) is not None)

        # 6. session_ended stops it
        with LOG.cond:
            LOG.ended = True
            LOG.cond.notify_all()
        check("session_ended seen", runner.expect(r"^session_ended", 10) is not None)
        check("stops with 'session ended'", runner.expect(r"end session ended", 10) is not None)
        try:
            code = runner.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        check("runner exits 0", code == 0, f"exit {code}")
        n_connects = len(REQUESTS)
        time.sleep(2.5)
        check("no reconnect after session_ended", len(REQUESTS) == n_connects, f"{len(REQUESTS)} vs {n_connects}")

        # Overall: every index exactly once, in order.
        idxs = [int(m.group(1)) for m in (re.search(r"^message idx=(\d+) ", l) for l in runner.all) if m]
        check("messages 0..7 each exactly once, in order", idxs == list(range(8)), str(idxs))
    finally:
        runner.stop()
        try:
            server.kill()
        except Exception:
            pass
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print(f"{label}: {passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
