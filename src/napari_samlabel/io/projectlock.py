"""A lock on a project open for writing, as editors lock the files they edit.

``<project>/.samlabel.lock`` (JSON) says who has the project open: user, host, process id and
start, time. A second open, in this process (another window), another process or another
machine on a shared drive, finds it and is refused with :class:`ProjectLocked` naming the
owner; it may open the project read-only or as a copy instead (their working arrays go to the
cache, never beside the project where the owner's is).

A lock is **stale**, and taken over, when its owner is gone:

- on this host: its process is not running (or the pid now runs a process started later: reused);
- on another host, whose processes cannot be seen: when it was not refreshed for
  :data:`STALE_AFTER_S` (12 hours). Every save of the project refreshes it;
- a lock file that cannot be read (a disk error) is stale too;
- a lock of this host that names another folder: the project was copied (a file manager copies
  the lock with it) and the copy is nobody's. Another host may see the folder under another
  path (its own mount), so there the path is not compared.

The owner removes it when its session closes, and at exit (``weakref.finalize``).
"""

from __future__ import annotations

import errno
import getpass
import json
import os
import socket
import time
import uuid
import weakref
from pathlib import Path

from .errors import ProjectError

LOCK_NAME = ".samlabel.lock"
STALE_AFTER_S = 12 * 3600
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


class ProjectLocked(ProjectError):
    """A project that cannot be opened for writing: ``owner`` (the lock's record) has it open,
    or (``owner`` None) its folder cannot be written here. Read-only or a copy still open it."""

    def __init__(self, text: str, folder: Path, owner: dict | None = None) -> None:
        super().__init__(text)
        self.folder = Path(folder)
        self.owner = owner


# -- who holds it -----------------------------------------------------------------
def _process_start(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # no psutil, or no such process (psutil's own errors)
        return None


def _running(pid: int, started: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process: it runs
        pass
    now_started = _process_start(pid)
    # the pid was reused by a process started after the owner (1 s: the clocks' rounding)
    return not (started and now_started and now_started > started + 1)


def me() -> dict:
    """This process as a lock's owner."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a name
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return {"user": user, "host": socket.gethostname(), "pid": os.getpid(),
            "started": _process_start(os.getpid()), "time": time.time()}  # fmt: skip


def read_owner(folder) -> dict | None:
    """The lock's record, None where there is no lock; ``{}`` for one that cannot be read."""
    path = Path(folder) / LOCK_NAME
    owner = _read(path)
    if owner is None:
        return {} if path.exists() else None
    if "folder" in owner and owner.get("host") == socket.gethostname() and not _same(owner["folder"], folder):
        owner = {**owner, "copied": True}  # a copy of a project open here: not its lock
    return owner


def is_stale(owner: dict, now: float | None = None) -> bool:
    """Whether the owner of a lock is gone (the rules in the module's text)."""
    now = time.time() if now is None else now
    if owner.get("copied"):
        return True
    try:
        host, pid, when = str(owner["host"]), int(owner["pid"]), float(owner["time"])
    except (KeyError, TypeError, ValueError):
        return True
    if host == socket.gethostname():
        return not _running(pid, owner.get("started"))
    return now - when > STALE_AFTER_S


def describe(owner: dict) -> str:
    """'alice on ws-12 (pid 4242) since 2024-05-01 10:22': who to ask to close it."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(owner.get("time") or 0)))
    return f"{owner.get('user', '?')} on {owner.get('host', '?')} (pid {owner.get('pid', '?')}) since {when}"


# -- taking and giving back --------------------------------------------------------
class ProjectLock:
    """This process's lock on ``folder``; ``token`` tells it from another lock of the same process."""

    def __init__(self, folder: Path, token: str) -> None:
        self.folder = Path(folder)
        self.token = token
        self._finalizer = weakref.finalize(self, _remove_if_ours, self.folder, token)

    def covers(self, folder) -> bool:
        return _same(self.folder, folder)

    def write_into(self, folder) -> None:
        """A fresh copy of this lock into ``folder`` (a project copy about to replace the locked
        one: the lock moves with the project, its time refreshed)."""
        _write(Path(folder) / LOCK_NAME, _record(self.folder, self.token))

    def release(self) -> None:
        self._finalizer()


def acquire(folder, outcome: str = "open it read-only or as a copy") -> ProjectLock:
    """Lock ``folder`` (made if missing) for this session; :class:`ProjectLocked` naming the
    owner where a live one holds it, or where the folder cannot be written here (``outcome``:
    what the message offers instead)."""
    folder = Path(folder)
    token = uuid.uuid4().hex
    for _ in range(3):  # a stale lock is taken over; another taker may win the race
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if _create(folder / LOCK_NAME, _record(folder, token)):
                return ProjectLock(folder, token)
        except OSError as e:
            if e.errno in _NOT_WRITABLE:
                raise ProjectLocked(f"{folder}: this folder cannot be written here ({e.strerror}); {outcome}",
                                    folder) from None  # fmt: skip
            raise ProjectError(f"{folder}: cannot lock it for writing ({e.strerror or e})") from None
        owner = read_owner(folder)
        if owner is not None and not is_stale(owner):
            raise locked(folder, owner, outcome)
        _take_over(folder, owner)
    raise locked(folder, read_owner(folder) or {}, outcome)


def check_free(folder, lock: ProjectLock | None = None) -> None:
    """:class:`ProjectLocked` where a live owner other than ``lock`` holds ``folder``."""
    owner = read_owner(folder)
    if owner is None or (lock is not None and owner.get("token") == lock.token) or is_stale(owner):
        return
    raise locked(folder, owner, "nothing was written")


def locked(folder, owner: dict, outcome: str = "open it read-only or as a copy") -> ProjectLocked:
    return ProjectLocked(f"{folder}: open for writing by {describe(owner)}; {outcome}", Path(folder), owner)


def _create(path: Path, record: dict) -> bool:
    """Write the lock file only where there is none, whole or not at all (a hard link of a
    complete temporary file; O_EXCL where the disk has no links). False if one is there."""
    tmp = path.with_name(f"{path.name}.{record['token']}.tmp")
    _write(tmp, record)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno in _NOT_WRITABLE:
            raise
        try:  # no hard links here (some shares): create-if-absent
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(folder: Path, stale: dict | None) -> None:
    """Remove a stale lock, and only that one: it is moved aside first and checked, so a lock
    another process took meanwhile is put back, not removed."""
    path = folder / LOCK_NAME
    aside = path.with_name(f"{path.name}.{uuid.uuid4().hex}.stale")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    if (_read(aside) or {}).get("token") != (stale or {}).get("token"):
        try:
            os.link(aside, path)  # someone's fresh lock: back in place (unless yet another is)
        except OSError:
            pass
    aside.unlink(missing_ok=True)


def _read(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _write(path: Path, record: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())  # another machine must read it whole


def _remove_if_ours(folder: Path, token: str) -> None:
    if (read_owner(folder) or {}).get("token") == token:
        try:
            (folder / LOCK_NAME).unlink()
        except OSError:  # gone, or a read-only disk now: it goes stale with this process
            pass


def _record(folder: Path, token: str) -> dict:
    return {**me(), "token": token, "folder": str(Path(folder).resolve())}


def _same(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
