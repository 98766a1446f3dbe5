#!/usr/bin/env python3
"""End-to-end scenarios for the status-light app (QEMU MPS2-AN386 firmware or the desktop runner)
against the real server, `sse-host serve`.

Runs inside a network namespace that `embedded/run-e2e.sh` creates (the tap is 192.168.69.100/24,
the app is 192.168.69.2). Starts `sse-host serve --bind 192.168.69.100:8000 --data-dir TMP
--heartbeat 1s`, publishes through its HTTP API (`POST /api/messages`, `PATCH /api/state`), starts
the runner, and checks what the runner prints:

1. backlog received; 2. live updates shown; 3. the server killed (SIGKILL) and restarted on the same
data dir: reconnect with the right `from` and `Last-Event-ID`, no duplicate, no gap; 4. a silent
server (the process stopped with SIGSTOP, then SIGCONT) trips the heartbeat watchdog; 5. a 100 KB
message skipped with its index counted; 6. `session_ended` (`PATCH /api/state
{"session_ended": true}`) stops the runner. Each wait is bounded. Prints `N passed, N failed`.

Usage: sse_e2e.py <label> <sse-host binary> <command...>
"""
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HOST, PORT = "192.168.69.100", 8000
BASE = f"http://{HOST}:{PORT}"


class Server:
    """The real `sse-host serve`, on a durable file log that survives kill and restart."""

    def __init__(self, binary):
        self.binary = binary
        self.data_dir = tempfile.mkdtemp(prefix="sse-e2e-")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--bind", f"{HOST}:{PORT}", "--data-dir", self.data_dir,
             "--heartbeat", "1s"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, PORT), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sse-host did not start listening")

    def kill(self):
        """Like a crash: SIGKILL, every open stream drops."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case it is stopped
            self.proc.kill()
            self.proc.wait(timeout=10)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def api(method, path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def publish(content):
    return api("POST", "/api/messages", {"type": "agent", "content": content})["idx"]


def patch_state(**fields):
    api("PATCH", "/api/state", fields)


def server_epoch():
    with urllib.request.urlopen(BASE + "/state", timeout=10) as resp:
        return json.loads(resp.read())["epoch"]


def usage(cost):
    return {"input_tokens": 10, "output_tokens": 20, "total_cost_usd": cost}


class Runner:
    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.all = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

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
    label, binary, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    results = []

    def check(name, ok, detail=""):
        results.append(bool(ok))
        print(f"  {'ok  ' if ok else 'FAIL'} {label}: {name}{' (' + detail + ')' if detail and not ok else ''}", flush=True)
        return ok

    server = Server(binary)
    runner = None
    try:
        server.start()
        for i in range(3):
            publish(f"backlog {i}")
        patch_state(agent_state="Ready", total_usage=usage(0.01))
        runner = Runner(cmd)

        # 1. backlog
        got = [runner.expect(r"message idx=%d " % i, 20) for i in range(3)]
        check("backlog 0..2 received", all(got))
        check("idle state shown", runner.expect(r"status link=connected .*activity=idle", 5) is not None)

        # 2. live updates
        patch_state(agent_state="RunningTool", total_usage=usage(0.25))
        publish("live 3")
        publish("live 4")
        check("live messages 3, 4", runner.expect(r"message idx=3 ", 5) and runner.expect(r"message idx=4 ", 5))
        check("activity running_tool and cost shown",
              runner.expect(r"activity=running_tool .*cost=0\.2500", 5) is not None)

        # 3. server killed and restarted on the same log: resume at 5 with Last-Event-ID <epoch>-4
        server.kill()
        check("offline shown after the server died", runner.expect(r"status link=(offline|connecting)", 10) is not None)
        time.sleep(1.5)
        server.start()
        m = runner.expect(r"connect from=(\d+) last_event_id=(\S+)", 30)
        # Ids are `<epoch>-<idx>` (docs/PROTOCOL.md §1); the durable log kept its epoch.
        check("reconnect resumes at from=5, Last-Event-ID <epoch>-4",
              m is not None and m.group(1) == "5" and m.group(2) == "%s-4" % server_epoch(),
              m.group(0) if m else "no connect")
        check("connected again", runner.expect(r"status link=connected", 20) is not None)
        check("published after restart as 5", publish("after restart 5") == 5)
        check("next message is 5 (no gap)", runner.expect(r"message idx=5 ", 5) is not None)

        # 4. silent server: the process is stopped, so the stream stays open without a byte
        server.pause()
        m = runner.expect(r"reason=\"Connection timed out \(no heartbeat\)\"", 15)
        check("silent server trips the watchdog", m is not None)
        server.resume()
        m = runner.expect(r"connect from=(\d+)", 20)
        check("reconnect after watchdog resumes at 6", m is not None and m.group(1) == "6", m.group(0) if m else "")
        check("connected after the server resumed", runner.expect(r"status link=connected", 20) is not None)

        # 5. over-sized message: skipped but counted by its index
        check("100 KB message published as 6", publish("x" * 100_000) == 6)
        m = runner.expect(r"message idx=6 bytes=\d+ truncated=true", 10)
        check("over-sized message 6 counted, data cut", m is not None)
        check("oversized count shown", runner.expect(r"oversized=1 ", 5) is not None)
        publish("after big 7")
        check("message 7 after the big one", runner.expect(r"message idx=7 ", 5) is not None)

        # 6. session_ended stops it
        patch_state(session_ended=True)
        check("session_ended seen", runner.expect(r"^session_ended", 10) is not None)
        check("stops with 'session ended'", runner.expect(r"end session ended", 10) is not None)
        try:
            code = runner.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        check("runner exits 0", code == 0, f"exit {code}")
        runner.reader.join(5)  # every line the runner printed is in runner.all
        after = runner.all[next((i for i, l in enumerate(runner.all) if l.startswith("session_ended")), len(runner.all)):]
        check("no reconnect after session_ended", not any(l.startswith("connect ") for l in after), str(after))

        # Overall: every index exactly once, in order.
        idxs = [int(m.group(1)) for m in (re.search(r"^message idx=(\d+) ", l) for l in runner.all) if m]
        check("messages 0..7 each exactly once, in order", idxs == list(range(8)), str(idxs))
    except Exception as e:  # a broken rig is a failure, not a crash without a count
        check("scenario ran to the end", False, repr(e))
    finally:
        if runner:
            runner.stop()
        server.cleanup()
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print(f"{label}: {passed} passed, {failed} failed", flush=True)
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
