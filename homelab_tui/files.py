"""Safe file writes for everything we own on disk (config, kubeconfig, known_hosts)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o600, backup: bool = True) -> Path:
    """Write `data` to `path` atomically with `mode`, keeping the previous file as `<path>.bak`.

    The data goes to a temp file in the same directory, is fsynced, then renamed over the target,
    so a reader sees either the old file or the new one, never half of one.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        if backup and target.exists():
            backup_path = target.with_name(target.name + ".bak")
            shutil.copy2(target, backup_path)
            os.chmod(backup_path, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target
