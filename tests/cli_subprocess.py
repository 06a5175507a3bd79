"""Run the ``gridkit`` command in a real subprocess, unprivileged or on a tiny full disk (test helpers).

``run_verbs`` runs several verbs in one Python process (``gridkit_cli.main.main`` per
verb, as the console script does) and returns each exit code and stderr, so the
interpreter starts once. ``unprivileged`` and ``tiny_filesystems`` give the command
prefix that makes permissions bite (root bypasses them) and a full disk real; each
returns None with the reason when this machine cannot do it, and the tests skip.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

RUNNER = """
import contextlib, io, json, sys
from gridkit_cli.main import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--quiet", *argv])
    out.append({"argv": argv, "code": code, "err": err.getvalue()})
if len(sys.argv) > 2:  # what the folders hold afterwards (a tmpfs is gone once the process ends)
    import os
    out.append({"left": {folder: sorted(os.listdir(folder)) for folder in sys.argv[2:]}})
print("RESULT " + json.dumps(out))
"""

# root without the capabilities that bypass file permissions (read, write, search, owner checks)
_NO_BYPASS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def run_verbs(verbs: list[list[str]], *, cwd: Path, prefix: list[str] | tuple[str, ...] = (),
              listing: tuple[Path, ...] = (), timeout: float = 300) -> list[dict]:
    """Run each verb (its argv after ``gridkit``) in one subprocess; return code and stderr of each.

    With ``listing``, a last item ``{"left": {folder: [...]}}`` holds the names in those folders afterwards.
    """
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    extra = [str(folder) for folder in listing]
    done = subprocess.run([*prefix, sys.executable, "-c", RUNNER, json.dumps(verbs), *extra], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"runner failed ({done.returncode}): {done.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def _works(prefix: list[str], probe: str) -> bool:
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, timeout=120,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def unprivileged() -> tuple[list[str] | None, str]:
    """A command prefix under which file permissions apply, or None and why not.

    Not root: nothing is needed. Root: ``setpriv`` to user nobody when the interpreter and
    gridkit are readable by nobody, else root without ``CAP_DAC_OVERRIDE``,
    ``CAP_DAC_READ_SEARCH`` and ``CAP_FOWNER`` (the capabilities that bypass permissions).
    """
    if os.geteuid() != 0:
        return [], ""
    if shutil.which("setpriv") is None:
        return None, "running as root and setpriv (util-linux) is not installed"
    probe = "import geopandas, gridkit_cli.main"
    for prefix in (_NOBODY, _NO_BYPASS):
        if _works(prefix, probe):
            return prefix, ""
    return None, "setpriv cannot drop root's permission bypass here"


def tiny_filesystems(mounts: dict[Path, tuple[int, int]]) -> tuple[list[str] | None, str]:
    """A prefix running the command with a tmpfs at each mountpoint: ``{path: (size_kb, free_kb)}``.

    Uses a user and mount namespace (``unshare -rm``), so no root is needed where
    unprivileged user namespaces are allowed; the mounts are gone when the command ends.
    """
    if shutil.which("unshare") is None:
        return None, "unshare (util-linux) is not installed"
    steps = []
    for mountpoint, (size_kb, free_kb) in mounts.items():
        mountpoint.mkdir(parents=True, exist_ok=True)
        where = shlex.quote(str(mountpoint))
        steps.append(f"mount -t tmpfs -o size={size_kb}k tmpfs {where} && "
                     f"head -c {(size_kb - free_kb) * 1024} /dev/zero > {where}/filler")
    prefix = ["unshare", "-rm", "sh", "-c", " && ".join([*steps, 'exec "$@"']), "sh"]
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"cannot mount a tmpfs in a user namespace: {err}"
    if done.returncode != 0:
        return None, f"cannot mount a tmpfs in a user namespace: {done.stderr.decode(errors='replace')[:200]}"
    return prefix, ""
