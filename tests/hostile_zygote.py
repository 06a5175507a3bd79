"""A warm ``gridkit`` command for the hostile-input tests: one child process per command.

Started as its own interpreter (``python hostile_zygote.py``), it imports the command line and
every verb's modules once, then for each request read from stdin (a JSON line: ``argv``,
``cwd``, ``log``) forks a child that runs ``gridkit_cli.main.main(argv)`` in ``cwd`` with its
stdout and stderr going to ``log`` and exits with its exit code; it answers with a JSON line
``{"code": N}``. The child is the real command in a fresh process, minus the half second of
imports that would otherwise dominate the suite's time.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback

WARM = ("gridkit_cli.main", "geopandas", "pyogrio", "shapely", "pyproj", "matplotlib.pyplot", "folium",
        "gridkit.io", "gridkit.partition.job", "gridkit.incidents.job", "gridkit.heat.job", "gridkit.patrol.job",
        "gridkit.board.job", "gridkit.maps.job", "gridkit.export.layers", "gridkit.osm.job")


def _child(argv: list[str], cwd: str, log: str, timeout: int) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", closefd=False)
    os.chdir(cwd)
    signal.alarm(timeout)
    code = 1
    try:
        from gridkit_cli.main import main
        code = main(argv)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001  (an escape from main(): print it as the interpreter would)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req["argv"], req["cwd"], req["log"], int(req.get("timeout", 300)))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"code": code}), flush=True)


if __name__ == "__main__":
    serve()
