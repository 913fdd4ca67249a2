"""Starting (or joining) the Ray session a runner works in, with Ray's own logs kept off the console."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path

import ray
import ray.data

QUIET = {
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",  # one runner progress display, not one bar per Ray Data operator
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    "RAY_AIR_NEW_OUTPUT": "0",  # Tune's new output prints an experiment banner even at verbose=0 (the table is ours)
}
RAY_LOGGERS = ("ray", "ray.data")  # the driver's Ray loggers with console handlers (ray.train, ray.tune: under "ray")
DRIVER_LOG = "autotask-driver.log"  # SESSION/logs/: the driver's Ray log records (INFO and up) when quiet
NATIVE_ERR = "autotask-driver.err"  # SESSION/logs/: native (C++) stderr of a quiet command's driver
LOG_FORMAT = "%(asctime)s\t%(levelname)s %(name)s %(filename)s:%(lineno)s -- %(message)s"
_native = {"wanted": False, "restore": None}  # set by quiet_console(); filled once Ray runs


def is_verbose(verbose: bool = False) -> bool:
    return verbose or os.environ.get("AUTOTASK_VERBOSE") == "1"


def ensure_ray(address: str | None = None, num_cpus: int | None = None, verbose: bool = False) -> None:
    """Join `address` (or RAY_ADDRESS) when given, else start a local Ray of this process's own; reuse a session this
    process already runs.

    Unless `verbose` or AUTOTASK_VERBOSE=1: worker logs stay in Ray's session logs (SESSION/logs), and the driver's
    own Ray log records (`ray`, `ray.data`, `ray.train`, `ray.tune`) below ERROR go to SESSION/logs/autotask-driver.log
    and SESSION/logs/ray-data/ instead of the console. Errors still print, and failures surface as exceptions.
    """
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    ray.data.DataContext.get_current().enable_progress_bars = False
    if ray.is_initialized():
        return
    verbose = is_verbose(verbose)
    buffer = None if verbose else _console_errors_only()
    address = address or os.environ.get("RAY_ADDRESS") or None
    # "local": a Ray of this process's own, never a cluster someone left running on the machine (`ray start`), which
    # plain ray.init() would join silently (with its own working directory and resources); --address auto joins it.
    kwargs = {"address": address} if address else {"address": "local", "num_cpus": num_cpus,
                                                    "include_dashboard": False}
    ray.init(logging_level=logging.INFO, log_to_driver=verbose, runtime_env={"env_vars": QUIET}, **kwargs)
    node = ray._private.worker._global_node  # None through Ray Client (ray://): no local session folder to log to
    if buffer is not None and node is None:
        _to_console(buffer)
    elif buffer is not None:
        logs = Path(node.get_logs_dir_path())
        _to_file(buffer, logs / DRIVER_LOG)
        if _native["wanted"] and _native["restore"] is None:
            _native["restore"] = _native_stderr_to(logs / NATIVE_ERR)


@contextlib.contextmanager
def quiet_console(verbose: bool = False):
    """For a command's main(): with --verbose (or AUTOTASK_VERBOSE=1) Ray prints everything as it would; otherwise,
    once Ray runs, native writes to this process's stderr (Ray's C++ core worker: its ERROR-level notices such as
    core_worker.cc's "constructor arguments in the object store", which Ray Data's actor pools trigger on every
    successful scoring pass) go to SESSION/logs/autotask-driver.err. Python's sys.stderr (tracebacks, error messages)
    stays on the terminal. Restored on exit."""
    previous = os.environ.get("AUTOTASK_VERBOSE")
    if verbose:
        os.environ["AUTOTASK_VERBOSE"] = "1"
    _native["wanted"] = not is_verbose()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AUTOTASK_VERBOSE", None)
        else:
            os.environ["AUTOTASK_VERBOSE"] = previous
        _native["wanted"] = False
        restore, _native["restore"] = _native["restore"], None
        if restore is not None:
            restore()


def _console_errors_only() -> logging.handlers.MemoryHandler:
    """Ray's console handlers print ERROR and up; records below are held until the session's log folder exists."""
    for name in RAY_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
    buffer = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
    buffer.setLevel(logging.INFO)
    logging.getLogger("ray").addHandler(buffer)
    return buffer


def _to_file(buffer: logging.handlers.MemoryHandler, path: Path) -> None:
    """Ray's driver log records, from ray.init on, into `path`."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    ray_logger = logging.getLogger("ray")
    buffer.setTarget(handler)
    buffer.flush()
    ray_logger.removeHandler(buffer)
    ray_logger.addHandler(handler)


def _to_console(buffer: logging.handlers.MemoryHandler) -> None:
    """No session folder (Ray Client): drop the held records and leave the console at ERROR and up."""
    buffer.setTarget(None)
    logging.getLogger("ray").removeHandler(buffer)


def _native_stderr_to(path: Path):
    """Point file descriptor 2 at `path`; sys.stderr keeps writing to the terminal. Returns the undo (None when
    sys.stderr is not file descriptor 2, e.g. under pytest's capture)."""
    try:
        if sys.stderr.fileno() != 2:
            return None
    except (AttributeError, OSError, ValueError):
        return None
    sys.stderr.flush()
    original, terminal = sys.stderr, os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, 2)
    os.close(target)
    sys.stderr = open(terminal, "w", buffering=1, encoding=original.encoding, errors=original.errors)  # noqa: SIM115

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        sys.stderr.close()
        sys.stderr = original

    return restore
