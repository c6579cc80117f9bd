#!/usr/bin/env python3
"""Runs a command on a real pseudo-terminal for tests, the way a person at a terminal would.

Protocol, one JSON object per line:
  stdin  {"write": "<text>"} | {"resize": [rows, cols]} | {"eof": true}
  stdout {"out": "<base64 bytes>"} ... then {"exit": <code>, "signal": <number or null>}
The first line of argv after the options is the command. --rows/--cols set the initial size.
"""
import base64, fcntl, json, os, pty, select, signal, struct, sys, termios

def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

def main():
    args = sys.argv[1:]
    rows, cols = 24, 80
    while args and args[0].startswith("--"):
        opt, value = args[0], int(args[1])
        args = args[2:]
        if opt == "--rows": rows = value
        elif opt == "--cols": cols = value
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(args[0], args)
    set_size(master, rows, cols)
    out = sys.stdout
    pending = b""
    stdin_open = True
    while True:
        fds = [master] + ([sys.stdin.fileno()] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [], 0.05)
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out.write(json.dumps({"out": base64.b64encode(data).decode()}) + "\n")
            out.flush()
        if stdin_open and sys.stdin.fileno() in ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                stdin_open = False
                continue
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.strip():
                    continue
                msg = json.loads(line)
                if "write" in msg:
                    os.write(master, msg["write"].encode())
                elif "resize" in msg:
                    # The kernel sends SIGWINCH to the terminal's foreground process, as on a real resize.
                    set_size(master, msg["resize"][0], msg["resize"][1])
                elif "eof" in msg:
                    os.write(master, b"\x04")
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    out.write(json.dumps({"exit": code, "signal": sig}) + "\n")
    out.flush()

if __name__ == "__main__":
    main()
