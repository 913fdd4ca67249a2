"""The real cluster launcher on this machine: `ray up` a local-provider cluster whose head is 127.0.0.1 over ssh,
run a job on it with `ray submit`, check its output and token authentication, then `ray down`.

The config is generated from cluster/local.yaml. Isolation, since other Ray sessions share this machine:
- the test's key is authorized with a forced command that gives its ssh sessions their own HOME (bootstrap
  config, ~/.ray/auth_token, .bashrc) and RAY_TMPDIR (sessions, cluster state), both under a fresh /tmp folder;
- in those shells `ray` is a shim (a function in that .bashrc, and ~/venv/bin/ray) whose `ray stop` (run by the
  start commands and by `ray down`) stops only this cluster's processes: a real `ray stop` kills every Ray
  process of the user on the machine, other people's sessions included;
- free ports for the GCS, dashboard and dashboard agent, so local `ray.init()` sessions do not collide.
Needs openssh-server and rsync (`.ci/run` installs them); skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from ray._private.authentication.authentication_token_generator import generate_new_authentication_token

pytestmark = [pytest.mark.slow, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)


def _missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "Linux only (reads /proc)"
    for tool, path in (("sshd (Debian: openssh-server)", SSHD), ("rsync", shutil.which("rsync")),
                       ("ssh", shutil.which("ssh")), ("ssh-keygen", shutil.which("ssh-keygen"))):
        if not path:
            return f"{tool} is not installed: apt-get install openssh-server rsync"
    if not (VENV_BIN / "ray").exists():
        return f"no ray command next to {sys.executable}"
    return None


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_with(marker: str) -> list[int]:
    """Processes whose command line contains `marker`, and their descendants (Ray renames its workers and
    agents `ray::...`); this process and its ancestors excluded."""
    parent, cmdline = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                pid = int(entry.name)
                parent[pid] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline[pid] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ValueError, IndexError):
                continue
    skip, pid = set(), os.getpid()
    while pid > 1 and pid not in skip:
        skip.add(pid)
        pid = parent.get(pid, 1)

    def ours(pid: int) -> bool:
        seen = set()
        while pid > 1 and pid not in seen:
            if marker in cmdline.get(pid, ""):
                return True
            seen.add(pid)
            pid = parent.get(pid, 1)
        return False

    return [pid for pid in cmdline if pid not in skip and ours(pid)]


def _kill(marker: str, grace: float = 10.0) -> None:
    """SIGTERM every process of this cluster, SIGKILL what is left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _pids_with(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while _pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)


# The `ray` the cluster's shells see: `ray stop` stops this cluster only (marker = its Ray temp folder).
SHIM = """#!/bin/sh
if [ "$1" = stop ]; then
  exec {python} -c 'import sys; sys.path.insert(0, "{here}"); import test_ray_up_local as t; t._kill("{marker}")'
fi
exec {ray} "$@"
"""

# The forced command of the test's key: its own HOME and Ray temp folder for every ssh session and rsync.
ENTRY = """#!/bin/sh
export HOME={home} RAY_TMPDIR={base}
cd "$HOME" && exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""


@pytest.fixture
def sandbox():
    """A /tmp folder (short: Ray's socket paths must stay < 108 bytes), an authorized key, a running sshd."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    user = pwd.getpwuid(os.getuid())
    if not _port_open(22) and os.getuid() != 0:
        pytest.skip("no sshd on 127.0.0.1:22 and not root to start one")
    base = Path(tempfile.mkdtemp(prefix="rayup-", dir="/tmp"))
    home = base / "home"
    venv_bin = home / "venv" / "bin"  # stands in for the cluster's ~/venv (the template's setup skips creating it)
    venv_bin.mkdir(parents=True)
    marker = f"{base}/ray/"
    shim = venv_bin / "ray"
    shim.write_text(SHIM.format(python=sys.executable, here=Path(__file__).parent, marker=marker,
                                ray=VENV_BIN / "ray"))
    for name in ("python", "python3"):
        (venv_bin / name).write_text(f'#!/bin/sh\nexec {VENV_BIN / "python"} "$@"\n')
    (base / "entry.sh").write_text(ENTRY.format(home=home, base=base))
    for script in (shim, venv_bin / "python", venv_bin / "python3", base / "entry.sh"):
        script.chmod(0o755)
    # Whatever PATH the setup commands build, `ray` in these shells (`ray down` runs `ray stop`) is the shim.
    (home / ".bashrc").write_text(f'ray() {{ {shim} "$@"; }}\nexport -f ray\n')
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"autotask-e2e-{base.name}",
                    "-f", str(base / "key")], check=True)
    line = f'command="{base}/entry.sh",no-agent-forwarding,no-X11-forwarding ' + (base / "key.pub").read_text()
    ssh_dir = Path(user.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    with keys.open("a") as f:
        f.write(line)
    keys.chmod(0o600)

    sshd = None
    if not _port_open(22):
        Path("/run/sshd").mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-A"], check=True, capture_output=True)
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-o", "ListenAddress=127.0.0.1", "-p", "22"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _port_open(22):
            assert sshd.poll() is None and time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.1)
    try:
        yield {"base": base, "home": home, "user": user.pw_name, "marker": marker, "shim": shim}
    finally:
        _kill(marker)
        text = keys.read_text()
        keys.write_text("".join(k for k in text.splitlines(keepends=True) if k != line))
        if sshd is not None:
            sshd.terminate()
            sshd.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def _cluster_config(box: dict) -> tuple[dict, int]:
    """cluster/local.yaml, pointed at 127.0.0.1 with the test's key, reusing this checkout's .venv."""
    config = yaml.safe_load((ROOT / "cluster" / "local.yaml").read_text())
    base, port = box["base"], _free_port()
    config["cluster_name"] = f"autotask-e2e-{base.name[len('rayup-'):]}"
    config["provider"].update(head_ip="127.0.0.1", worker_ips=[])
    config["auth"] = {"ssh_user": box["user"], "ssh_private_key": str(base / "key")}
    token = base / "auth_token"
    token.write_text(generate_new_authentication_token())
    assert config["file_mounts"]["~/autotask"] == "."  # relative to the repository root, where `ray` runs
    config["file_mounts"]["~/.ray/auth_token"] = str(token)
    # No pip installs: ~/venv/bin holds python/python3 wrappers of this checkout's .venv (the project is
    # installed there, editable) and the ray shim; the template's PATH line makes them the cluster's commands.
    setup = config["setup_commands"]
    assert setup[0].startswith("test -x ~/venv/bin/python") and "AUTOTASK_CLUSTER" in setup[1]
    config["setup_commands"] = setup[:2]
    start = config["head_start_ray_commands"]
    assert start[0] == "ray stop" and "--port=6379" in start[1] and "RAY_AUTH_MODE=token" in start[1]
    head = start[1].replace("--port=6379", f"--port={port}").replace("--object-manager-port=8076", "")
    head += (f" --num-cpus=1 --dashboard-port={_free_port()} --dashboard-agent-listen-port={_free_port()}"
             f" --dashboard-agent-grpc-port={_free_port()}")
    config["head_start_ray_commands"] = [f"{box['shim']} stop", head]
    return config, port


def _ray(box: dict, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_TMPDIR": str(box["base"]), "TMPDIR": str(box["base"]), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN_PATH": str(box["base"] / "auth_token")}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([str(VENV_BIN / "ray"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, f"ray {args[0]} failed ({proc.returncode}):\n{output}"
    return proc


def test_ray_up_submit_down(sandbox, capsys):
    box = sandbox
    config, port = _cluster_config(box)
    cfg = box["base"] / "cluster.yaml"
    cfg.write_text(yaml.safe_dump(config))
    t0 = time.monotonic()
    _ray(box, "up", "-y", "--no-config-cache", str(cfg))
    t_up = time.monotonic() - t0
    home = box["home"]
    assert (home / "autotask" / "runners" / "build_data.py").exists()
    assert not (home / "autotask" / ".venv").exists(), "rsync_filter must keep .venv/ out of file_mounts"
    assert (home / ".ray" / "auth_token").read_text() == (box["base"] / "auth_token").read_text()
    assert _pids_with(box["marker"]), "no Ray process of this cluster is running"

    # The job: the data builder runs on the head with the cluster's python3.
    out = box["base"] / "sim"
    _ray(box, "submit", str(cfg), str(ROOT / "runners" / "build_data.py"),
         "simulate", "--out", str(out), "--rows", "5000")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["features"] and list((out / "data").glob("*.parquet"))

    # A driver on the head joins the cluster with the token; with a wrong token it is refused.
    probe = (f"import ray; ray.init(address='127.0.0.1:{port}', logging_level='ERROR'); "
             "print('CPUS', ray.cluster_resources().get('CPU'))")
    joined = _ray(box, "exec", str(cfg), f'python3 -c "{probe}"')
    assert "CPUS 1.0" in joined.stdout + joined.stderr, joined.stdout[-2000:]
    wrong = generate_new_authentication_token()
    refused = _ray(box, "exec", str(cfg), f'RAY_AUTH_TOKEN={wrong} timeout 60 python3 -c "{probe}" '
                   "&& echo JOIN\"\"ED || echo REFU\"\"SED", timeout=120)
    output = refused.stdout + refused.stderr
    assert "REFUSED" in output and "JOINED" not in output and "CPUS 1.0" not in output, output[-3000:]

    # `ray down` runs `ray stop` on the head: make sure it reaches the shim, not the machine-wide real one.
    which = _ray(box, "exec", str(cfg), "type ray")
    assert "ray is a function" in which.stdout + which.stderr, (which.stdout + which.stderr)[-2000:]
    t1 = time.monotonic()
    down = _ray(box, "down", "-y", str(cfg))
    assert "Stopped all" not in down.stdout + down.stderr, "the real `ray stop` ran"
    deadline = time.monotonic() + 20
    while _pids_with(box["marker"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _pids_with(box["marker"]), "ray down left processes of this cluster running"
    with capsys.disabled():
        print(f"\n[ray up local] up {t_up:.1f} s, job + checks {t1 - t0 - t_up:.1f} s, "
              f"down {time.monotonic() - t1:.1f} s, total {time.monotonic() - t0:.1f} s")
