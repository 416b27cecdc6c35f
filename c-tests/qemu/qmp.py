#!/usr/bin/env python3
"""A minimal QMP client (stdlib only) for c-tests/qemu/sev.sh.

    qmp.py SOCKET COMMAND [JSON-ARGUMENTS]

Connects, negotiates capabilities, runs one command and prints its answer as one JSON line
(`{"return": ...}` or `{"error": ...}`); asynchronous events are skipped. Every exchange is
also appended to $QMP_TRANSCRIPT, if set, as `-> request` / `<- answer` lines. Exit status 0
for a return, 1 for an error answer, 2 when QEMU cannot be reached.
"""
import json
import os
import socket
import sys
import time


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    path, command = sys.argv[1], sys.argv[2]
    request = {"execute": command}
    if len(sys.argv) == 4:
        request["arguments"] = json.loads(sys.argv[3])
    sock = None
    for _ in range(200):
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            break
        except OSError:
            sock.close()
            sock = None
            time.sleep(0.1)
    if sock is None:
        print(f"qmp.py: cannot connect to {path}", file=sys.stderr)
        return 2
    sock.settimeout(60)
    stream = sock.makefile("rw")
    transcript = os.environ.get("QMP_TRANSCRIPT")

    def read_answer():
        while True:
            line = stream.readline()
            if not line:
                raise EOFError("QEMU closed the QMP connection")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def send(req):
        stream.write(json.dumps(req) + "\n")
        stream.flush()
        return read_answer()

    try:
        read_answer()  # greeting
        send({"execute": "qmp_capabilities"})
        answer = send(request)
    except (OSError, EOFError, ValueError) as e:
        print(f"qmp.py: {command}: {e}", file=sys.stderr)
        return 2
    if transcript:
        with open(transcript, "a") as t:
            t.write("-> " + json.dumps(request) + "\n<- " + json.dumps(answer) + "\n")
    print(json.dumps(answer))
    return 0 if "return" in answer else 1


if __name__ == "__main__":
    sys.exit(main())
