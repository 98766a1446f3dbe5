"""Python SSE clients against a running `sse-host serve` (started by run.sh).

Usage: python python_clients.py CHECK BASE_URL, CHECK one of `httpx-sse`, `sseclient-py`.
Each check publishes two messages, opens /stream with the client, and requires the first event
the client yields to be `state` with JSON data (no empty message from the opening `retry:`),
carrying the server's retry, then the messages with ids `<epoch>-<idx>`. Exit 0 on success.
"""

import json
import sys
import urllib.request

TIMEOUT = 10  # seconds: a watchdog on every socket read


def post(base, path, body):
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
        return json.load(res)


def check_events(events, retry):
    """`events`: (event, data, id) tuples in the order the client yielded them."""
    assert events, "no event"
    first, data, _ = events[0]
    assert first == "state", f"first event is {first!r} with data {data!r}, not state"
    state = json.loads(data)
    epoch = state["epoch"]
    assert retry is not None and int(retry) == 1000, f"the first event carries retry 1000, got {retry!r}"
    messages = [e for e in events if e[0] == "message"]
    ids = [i for _, _, i in messages]
    assert ids == [f"{epoch}-0", f"{epoch}-1"], f"ids {ids}"
    for _, data, _ in messages:
        json.loads(data)
    for event, data, _ in events:
        assert data != "" and event in ("state", "message"), f"unexpected {event!r} {data!r}"


def httpx_sse(base):
    import httpx
    from httpx_sse import connect_sse

    events, retry = [], None
    with httpx.Client(timeout=TIMEOUT) as client:
        with connect_sse(client, "GET", base + "/stream?from=0") as source:
            for sse in source.iter_sse():
                if not events:
                    retry = sse.retry
                events.append((sse.event, sse.data, sse.id))
                if sse.event == "message" and sse.data and json.loads(sse.data).get("idx") == 1:
                    break
    check_events(events, retry)


def sseclient_py(base):
    import requests
    import sseclient

    events, retry = [], None
    res = requests.get(
        base + "/stream?from=0",
        stream=True,
        headers={"Accept": "text/event-stream"},
        timeout=TIMEOUT,
    )
    try:
        for ev in sseclient.SSEClient(res).events():
            if not events:
                retry = ev.retry
            events.append((ev.event, ev.data, ev.id))
            if ev.event == "message" and ev.data and json.loads(ev.data).get("idx") == 1:
                break
    finally:
        res.close()
    check_events(events, retry)


def main():
    check, base = sys.argv[1], sys.argv[2].rstrip("/")
    for i in range(2):
        post(base, "/api/messages", {"type": "agent", "content": f"m{i}"})
    {"httpx-sse": httpx_sse, "sseclient-py": sseclient_py}[check](base)
    print(f"{check}: ok")


if __name__ == "__main__":
    main()
