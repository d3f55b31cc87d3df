"""SFTP for the simulated node, served from its in-memory files with the login user's
permissions (never root): stat, open/read/write/close, setstat (chmod), remove, rename, mkdir
and directory listing, as OpenSSH's sftp and asyncssh clients use them."""

from __future__ import annotations

import posixpath
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncssh

from .state import FsError, SimNodeState


@dataclass
class OpenFile:
    path: str
    data: bytearray
    writable: bool
    append: bool
    dirty: bool = False


class NodeSftp(asyncssh.SFTPServer):
    """SFTP backed by the node's `files`, with the login user's permissions (never root)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, state: SimNodeState) -> None:
        super().__init__(chan)
        self._state = state

    def _path(self, path: bytes) -> str:
        text = path.decode("utf-8", "surrogateescape") or "."
        return posixpath.normpath(posixpath.join(self._state.home, text))

    def _attrs(self, path: str) -> asyncssh.SFTPAttrs:
        s = self._state
        if path in s.files:
            size = len(s.files[path].encode("utf-8", "surrogateescape"))
            owner = s.owner(path)
            uid = 0 if owner == "root" else 1000
            return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_REGULAR, size=size, uid=uid, gid=uid,
                                      permissions=stat.S_IFREG | s.mode(path), mtime=int(time.time()))
        if s.is_dir(path):
            return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, size=4096, uid=0, gid=0,
                                      permissions=stat.S_IFDIR | 0o755, mtime=int(time.time()))
        raise asyncssh.SFTPNoSuchFile("No such file")

    def realpath(self, path: bytes) -> bytes:
        return self._path(path).encode("utf-8", "surrogateescape")

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self._attrs(self._path(path))

    lstat = stat

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> OpenFile:
        s, target = self._state, self._path(path)
        exists = target in s.files
        writable = bool(pflags & asyncssh.FXF_WRITE)
        if not exists and not pflags & asyncssh.FXF_CREAT:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if exists and pflags & asyncssh.FXF_EXCL:
            raise asyncssh.SFTPFileAlreadyExists("File already exists")
        if (writable and not s.can_write(target, False)) or (exists and not writable and not s.can_read(target, False)):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        if not exists:
            s.write(target, "", root=False, mode=(attrs.permissions or 0o644) & 0o7777)
        keep = exists and not pflags & asyncssh.FXF_TRUNC
        data = bytearray(s.files[target].encode("utf-8", "surrogateescape")) if keep else bytearray()
        return OpenFile(target, data, writable, bool(pflags & asyncssh.FXF_APPEND), dirty=not keep and writable)

    def read(self, file_obj: OpenFile, offset: int, size: int) -> bytes:
        return bytes(file_obj.data[offset : offset + size])

    def write(self, file_obj: OpenFile, offset: int, data: bytes) -> int:
        if not file_obj.writable:
            raise asyncssh.SFTPPermissionDenied("File not open for writing")
        if file_obj.append:
            offset = len(file_obj.data)
        if offset > len(file_obj.data):
            file_obj.data.extend(b"\0" * (offset - len(file_obj.data)))
        file_obj.data[offset : offset + len(data)] = data
        file_obj.dirty = True
        return len(data)

    def close(self, file_obj: OpenFile) -> None:
        if file_obj.dirty:
            self._state.write(file_obj.path, file_obj.data.decode("utf-8", "surrogateescape"), root=False)

    def fstat(self, file_obj: OpenFile) -> asyncssh.SFTPAttrs:
        attrs = self._attrs(file_obj.path)
        attrs.size = len(file_obj.data)
        return attrs

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self._chmod(self._path(path), attrs)

    def fsetstat(self, file_obj: OpenFile, attrs: asyncssh.SFTPAttrs) -> None:
        self._chmod(file_obj.path, attrs)

    def _chmod(self, path: str, attrs: asyncssh.SFTPAttrs) -> None:
        if path not in self._state.files:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if self._state.owner(path) != self._state.user:
            raise asyncssh.SFTPPermissionDenied("Operation not permitted")
        if attrs.permissions is not None:
            self._state.modes[path] = attrs.permissions & 0o7777

    def remove(self, path: bytes) -> None:
        try:
            self._state.remove(self._path(path), root=False)
        except FsError as exc:
            error = asyncssh.SFTPNoSuchFile if "No such" in str(exc) else asyncssh.SFTPPermissionDenied
            raise error(str(exc)) from None

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self._path(oldpath), self._path(newpath)
        if old not in self._state.files:
            raise asyncssh.SFTPNoSuchFile("No such file")
        if not self._state.can_write(new, False):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        self._state.write(new, self._state.files[old], root=False, mode=self._state.mode(old))
        self._state.remove(old, root=False)

    posix_rename = rename

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        if not self._state.can_write(posixpath.join(self._path(path), ".probe"), False):
            raise asyncssh.SFTPPermissionDenied("Permission denied")

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        directory = self._path(path).rstrip("/") + "/"
        children = sorted({p[len(directory) :].split("/")[0] for p in self._state.files if p.startswith(directory)})
        for name in children:
            yield asyncssh.SFTPName(name.encode(), attrs=self._attrs(directory + name))
