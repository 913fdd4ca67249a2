"""Onboarded scenarios' profiles, stored beside the run (RUN_DIR/serving/profiles.json).

The file is what every replica serves from: an onboarding request writes it (under a file lock, atomically), and
each replica re-reads it when it changes, so a scenario onboarded through one replica is scored with its profile by
all of them, and a restart keeps it. Profiles belong to one model version (a hash of weights.pt): entries of
another version are kept in the file but not served.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from autotask.storage import atomic_write_text

PROFILES = "profiles.json"


class OnboardedProfiles:
    """The profiles of `version`'s onboarded scenarios: {scenario: {"profile", "rows", "onboarded_at", "version"}}."""

    def __init__(self, folder: str | Path, version: str):
        self.path = Path(folder) / PROFILES
        self.version = version
        self._stamp: tuple[int, int, int] | None = None
        self._entries: dict[str, dict] = {}

    def current(self) -> dict[str, dict]:
        """The served entries, re-read when the file changed since the last call (one stat per call)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._entries = None, {}
            return self._entries
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # an atomic rewrite is a new inode
        if stamp != self._stamp:
            self._entries = {name: entry for name, entry in self._read().items()
                             if entry.get("version") == self.version}
            self._stamp = stamp
        return self._entries

    def add(self, scenario: str, profile: list[float], rows: int) -> dict:
        """Store (or replace) `scenario`'s profile; returns its entry."""
        entry = {"profile": profile, "rows": rows, "version": self.version,
                 "onboarded_at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # replicas onboarding at once each keep the others' entries
            entries = self._read()
            entries[scenario] = entry
            atomic_write_text(self.path, json.dumps(entries, indent=1))
        return entry

    def _read(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
