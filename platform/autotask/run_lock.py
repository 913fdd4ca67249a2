"""One writer per folder: a run, study or search folder is written by the command holding its lock, NAME.lock beside
it (beside, so that --fresh may delete the folder while its lock is held).

The lock file is created atomically (O_CREAT | O_EXCL) and names its holder: host, pid, the process's start time,
when it was taken and the command. A second command on the same folder is refused (InputError: exit 2) naming the
holder. A lock left by a process that is gone (same host; its pid is not running, or is a newer process) is taken
over: it is first renamed aside (an atomic rename only one taker can win), then created afresh as usual.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path

from autotask.preflight import InputError

ATTEMPTS = 3  # create, or take over a stale lock and create again


def lock_path(folder: str | Path) -> Path:
    folder = Path(folder).absolute()
    return folder.with_name(folder.name + ".lock")


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc; None where unknown): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(holder: dict) -> bool:
    """False only when the holder is surely gone: same host, and its pid is not running or started later."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True  # a lock this module did not write: leave it to a person
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # running, as another user
    started = _start_ticks(pid)
    return started is None or holder.get("started") in (None, started)


def _read(path: Path) -> tuple[str, dict] | None:
    """The lock's text and holder (None: no lock). Text being written right now reads as a holder with no fields."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        holder = {}
    return text, holder if isinstance(holder, dict) else {}


def describe(holder: dict) -> str:
    where = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    since = f" since {holder['since']}" if holder.get("since") else ""
    command = f" ({holder['command']})" if holder.get("command") else ""
    return where + since + command


def _refusal(folder: Path, path: Path, holder: dict) -> InputError:
    hint = ("wait for it to finish, or use another folder" if holder.get("host") == socket.gethostname() else
            "this machine cannot tell whether it still runs: remove the lock only when it does not")
    return InputError(f"{folder}: another command is writing this folder: {describe(holder)}; lock {path}: {hint}")


def _take_over_stale(path: Path, text: str) -> None:
    """Move a stale lock aside, so that it is gone; a live lock that replaced it meanwhile is put back."""
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another taker moved it first
    if aside.read_text() != text:  # not the lock judged stale: restore it unless a newer one exists
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink()


def acquire(folder: str | Path) -> dict:
    """Create the folder's lock naming this process, or raise InputError naming the live holder."""
    folder = Path(folder)
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_ticks(os.getpid()),
          "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)[:300],
          "token": uuid.uuid4().hex}
    for _ in range(ATTEMPTS):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found = _read(path)
            if found is None:
                continue  # released in the meantime
            text, holder = found
            if _alive(holder):
                raise _refusal(folder, path, holder) from None
            _take_over_stale(path, text)
            print(f"note: {folder}: took over the lock of a command that is gone ({describe(holder)})",
                  file=sys.stderr, flush=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(me))
        return me
    raise _refusal(folder, path, (_read(path) or ("", {}))[1])


def release(folder: str | Path, me: dict) -> None:
    """Remove the folder's lock if it is still this holder's."""
    path = lock_path(folder)
    found = _read(path)
    if found is not None and found[1].get("token") == me["token"]:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def hold(folder: str | Path):
    """`with hold(run_dir):` the folder is this command's until the block ends (however it ends)."""
    me = acquire(folder)
    try:
        yield me
    finally:
        release(folder, me)
