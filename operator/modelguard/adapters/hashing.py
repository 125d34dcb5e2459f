"""Streaming, parallel SHA-256 hashing of model directories (the hot path of verification).

- Memory is bounded by workers x CHUNK whatever the model size: each worker thread reuses one buffer
  (readinto, no per-read allocation) and no file is ever read whole.
- hashlib and readinto release the GIL, so threads hash on all cores; big files go first so the
  slowest item starts earliest.
- Files are opened with O_NOFOLLOW and checked to be regular files; symlinks are refused unless the
  signature allows them, and then only when they resolve inside the model directory.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from modelguard.api.condition_reasons import Reason
from modelguard.domain.errors import VerificationError
from modelguard.domain.statement import Resource, Serialization

CHUNK = 4 * 1024 * 1024
MMAP_WINDOW = 16 * 1024 * 1024
Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileEntry:
    rel: str
    size: int


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _ignored(rel: str, ignores: Sequence[str]) -> bool:
    for pattern in ignores:
        p = pattern.strip("/")
        if p and (rel == p or rel.startswith(p + "/")):
            return True
    return False


def scan_model(root: Path, *, allow_symlinks: bool = False, ignore: Sequence[str] = ()) -> list[FileEntry]:
    """Every regular file below root (relative POSIX paths), refusing what could escape it."""
    try:
        root_stat = os.stat(root)
    except OSError:
        raise VerificationError(Reason.SOURCE_NOT_FOUND, f"model path {root.name!r} does not exist") from None
    if stat.S_ISREG(root_stat.st_mode):
        return [FileEntry(root.name, root_stat.st_size)]
    if not stat.S_ISDIR(root_stat.st_mode):
        raise VerificationError(Reason.UNSUPPORTED_FILE_TYPE, "model path is neither a file nor a directory")
    real_root = os.path.realpath(root)
    entries: list[FileEntry] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(os.path.join(root, rel_dir)) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if _ignored(rel, ignore):
                    continue
                if entry.is_symlink():
                    if not allow_symlinks:
                        raise VerificationError(Reason.SYMLINK_NOT_ALLOWED, f"{rel!r} is a symbolic link")
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([real_root, target]) != real_root:
                        raise VerificationError(Reason.SYMLINK_ESCAPES, f"{rel!r} points outside the model directory")
                    st = os.stat(target)
                else:
                    st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    if entry.is_symlink():
                        raise VerificationError(Reason.SYMLINK_NOT_ALLOWED, f"{rel!r} links to a directory")
                    stack.append(rel)
                elif stat.S_ISREG(st.st_mode):
                    entries.append(FileEntry(rel, st.st_size))
                else:
                    raise VerificationError(Reason.UNSUPPORTED_FILE_TYPE, f"{rel!r} is not a regular file")
    return sorted(entries, key=lambda e: e.rel)


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.buf = bytearray(CHUNK)


_buffers = _Buffers()


def _hash_mapped(fd: int, start: int, end: int, progress: Progress | None) -> tuple[str, int]:
    """Hash through read-only mmap windows: no copy out of the page cache (about 10% faster).

    A file truncated while mapped raises SIGBUS and kills the process, which is why only short-lived
    processes whose death fails closed (the `verify` CLI, the init container) use it.
    """
    hasher = hashlib.sha256()
    offset = start
    page = mmap.ALLOCATIONGRANULARITY
    while offset < end:
        base = offset - offset % page
        length = min(MMAP_WINDOW, end - base)
        with mmap.mmap(fd, length, offset=base, access=mmap.ACCESS_READ) as window:
            window.madvise(mmap.MADV_SEQUENTIAL)
            view = memoryview(window)
            hasher.update(view[offset - base :])
            view.release()
        if progress is not None:
            progress(base + length - offset)
        offset = base + length
    return hasher.hexdigest(), end - start


def hash_range(
    path: Path,
    start: int = 0,
    end: int | None = None,
    *,
    follow: bool = False,
    progress: Progress | None = None,
    use_mmap: bool = False,
) -> tuple[str, int]:
    """SHA-256 of bytes [start, end) of a regular file (to EOF when end is None): (hex, bytes read)."""
    flags = os.O_RDONLY | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise VerificationError(Reason.MISSING_FILE, f"cannot open {path.name!r} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VerificationError(Reason.UNSUPPORTED_FILE_TYPE, f"{path.name!r} is not a regular file")
        if use_mmap and info.st_size > 0:
            return _hash_mapped(fd, start, min(end if end is not None else info.st_size, info.st_size), progress)
        hasher = hashlib.sha256()
        view = memoryview(_buffers.buf)
        remaining = None if end is None else end - start
        if start:
            os.lseek(fd, start, os.SEEK_SET)
        total = 0
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as f:
            while remaining is None or remaining > 0:
                want = CHUNK if remaining is None else min(CHUNK, remaining)
                n = f.readinto(view[:want])
                if not n:
                    break
                hasher.update(view[:n])
                total += n
                if remaining is not None:
                    remaining -= n
                if progress is not None:
                    progress(n)
        return hasher.hexdigest(), total
    finally:
        os.close(fd)


def plan(entries: Iterable[FileEntry], serialization: Serialization) -> list[tuple[Resource, int]]:
    """The resources a directory consists of under a serialization, with their sizes (digest empty)."""
    items: list[tuple[Resource, int]] = []
    for entry in entries:
        if serialization.method == "files":
            items.append((Resource(entry.rel, ""), entry.size))
            continue
        shard = serialization.shard_size or 1
        for start in range(0, entry.size, shard):
            end = min(start + shard, entry.size)
            items.append((Resource(entry.rel, "", start, end), end - start))
    return items


@dataclass(frozen=True)
class HashResult:
    resources: dict[str, Resource]
    files: int
    bytes: int
    seconds: float


def hash_model(
    root: Path,
    serialization: Serialization,
    *,
    workers: int | None = None,
    only: Sequence[str] | None = None,
    progress: Progress | None = None,
    use_mmap: bool = False,
) -> HashResult:
    """Hash every resource of the model at root. `only` restricts to these file paths (if present)."""
    started = time.monotonic()
    entries = scan_model(root, allow_symlinks=serialization.allow_symlinks, ignore=serialization.ignore_paths)
    base = root.parent if root.is_file() else root
    if only is not None:
        wanted = set(only)
        entries = [e for e in entries if e.rel in wanted]
    items = plan(entries, serialization)
    items.sort(key=lambda item: item[1], reverse=True)  # largest first

    def work(item: tuple[Resource, int]) -> Resource:
        resource, size = item
        path = base / resource.path
        start = resource.start or 0
        end = resource.end if resource.start is not None else None
        digest, read = hash_range(
            path, start, end, follow=serialization.allow_symlinks, progress=progress, use_mmap=use_mmap
        )
        expected = (end - start) if end is not None else size
        if read != expected:
            raise VerificationError(Reason.FILE_CHANGED, f"{resource.path!r} changed size while it was hashed")
        return Resource(resource.path, digest, resource.start, resource.end)

    pool_size = max(1, min(workers or default_workers(), len(items) or 1))
    with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="hash") as pool:
        hashed = list(pool.map(work, items))
    return HashResult(
        resources={r.name: r for r in hashed},
        files=len(entries),
        bytes=sum(size for _, size in items),
        seconds=time.monotonic() - started,
    )
