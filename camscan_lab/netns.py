"""Named network namespaces (`ip netns`) entered per thread via setns(2); 3.11 has no os.setns."""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NETNS_DIR = Path("/run/netns")  # where `ip netns add` bind-mounts named namespaces
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> Path:
    """The bind-mount file of the named namespace."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"bad network namespace name {name!r}")
    return NETNS_DIR / name


def list_netns() -> list[str]:
    """Names of all named network namespaces on the machine, sorted."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def exists(name: str) -> bool:
    """Whether a namespace of this name is mounted here (not a stale file of another mount ns)."""
    try:
        return os.stat(netns_path(name)).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


def inode(name: str) -> int:
    """The namespace's inode number, as in `/proc/PID/ns/net -> net:[INODE]`."""
    return os.stat(netns_path(name)).st_ino


def open_netns(name: str) -> int:
    """A close-on-exec file descriptor referring to the named namespace."""
    return os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)


def open_current() -> int:
    """A file descriptor referring to the calling thread's current namespace."""
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def setns_fd(fd: int) -> None:
    """Move the calling thread (only) into the namespace `fd` refers to; OSError on failure."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno() or errno.EINVAL
        raise OSError(err, f"setns: {os.strerror(err)}")


def enter(name: str) -> None:
    """Move the calling thread into the named namespace and stay there."""
    fd = open_netns(name)
    try:
        setns_fd(fd)
    finally:
        os.close(fd)


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the block with the calling thread in the named namespace, then switch back."""
    home = open_current()
    try:
        enter(name)
        try:
            yield
        finally:
            setns_fd(home)
    finally:
        os.close(home)


def socket_in(
    fd: int, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A new socket living in the namespace `fd` refers to (a socket keeps its namespace)."""
    home = open_current()
    try:
        setns_fd(fd)
        try:
            return socket.socket(family, type, proto)
        finally:
            setns_fd(home)
    finally:
        os.close(home)
