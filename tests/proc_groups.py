"""Which processes of a process group still run: how the emulator helpers know they stopped
everything they started (gcloud may exit before its Java child does)."""
from __future__ import annotations

from pathlib import Path


def live_members(group: int) -> list[tuple[int, str]]:
    """(pid, command name) of the group's processes that still run; zombies waiting to be reaped
    do not count."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # bytes: a command name may be any bytes, not UTF-8
            stat = (entry / "stat").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        # /proc/<pid>/stat: pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, _ppid, pgrp = stat[stat.rindex(")") + 2:].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append((int(entry.name), comm))
    return members
