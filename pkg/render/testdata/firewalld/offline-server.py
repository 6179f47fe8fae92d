# Runs firewall-offline-cmd for the firewalld VM tests without paying
# Python's start-up and firewalld's imports on every call: those cost
# seconds under the test VM's emulated CPU.
#
# Usage: python3 offline-server.py FIREWALL-OFFLINE-CMD SOCKET
#
# It imports the modules the script imports at its top level, compiles the
# script once, then serves SOCKET. Each connection carries one call: the
# arguments (JSON list, newline-terminated) with the caller's stdin, stdout
# and stderr attached (SCM_RIGHTS). A forked child runs the unmodified
# script on them, as `firewall-offline-cmd ARGS…` would, from a fresh copy
# of the pre-import state: argument parsing, rule parsing and validation,
# loading and writing the configuration are all firewalld's own, per call.
# The child writes its exit status back ("N\n") and exits with it.
import ast
import atexit
import json
import os
import signal
import socket
import sys


def preimport(path, source):
    """Runs the script's top-level import statements (only those)."""
    tree = ast.parse(source, path)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=imports, type_ignores=[]), path, "exec"), {})


def exit_status(code):
    """The status the interpreter would exit with for sys.exit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(path, code, args):
    """Runs the compiled script as __main__ with args; returns its status."""
    sys.argv = [path] + args
    main = type(sys)("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
        status = 0
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    atexit._run_exitfuncs()
    return status


def serve(path, code, sock):
    while True:
        conn, _ = sock.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        while not msg.endswith(b"\n"):
            more = conn.recv(1 << 16)
            if not more:
                break
            msg += more
        if len(fds) != 3 or not msg.endswith(b"\n"):
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        if os.fork() == 0:
            sock.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            status = 1
            try:
                status = run(path, code, json.loads(msg))
            finally:
                for f in (sys.stdout, sys.stderr):
                    try:
                        f.flush()
                    except Exception:
                        pass
                try:
                    conn.sendall(b"%d\n" % status)
                finally:
                    os._exit(status)
        for fd in fds:
            os.close(fd)
        conn.close()


def main():
    path, addr = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        source = f.read()
    preimport(path, source)
    code = compile(source, path, "exec")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(addr)
    sock.listen(16)
    print("ready", flush=True)
    serve(path, code, sock)


main()
