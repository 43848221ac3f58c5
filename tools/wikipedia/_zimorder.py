"""The HTML entries of a ZIM in the order their content is stored (cluster by cluster).

libzim numbers entries by path, but stores their content in compressed clusters of a
few MB in the order the ZIM's writer added them. Reading articles by entry id then
decompresses a whole cluster for nearly every article once the two orders differ (they
do in real Kiwix dumps): on a 100,000-article ZIM that is about 450 articles/s instead
of over 10,000. The Python binding does not expose the cluster of an entry, so it is
read here from the ZIM's directory entries (the file format is documented at
https://wiki.openzim.org/wiki/ZIM_file_format), with numpy over a memory map.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from libzim.reader import Archive

_BLOCK = 1 << 20  # directory entries read at a time (bounded memory on huge ZIMs)
_FIRST_SPECIAL_MIME = 0xFFFD  # redirect, link target, deleted


def _mime_types(mm: np.memmap, at: int) -> list[str]:
    types: list[str] = []
    while True:
        end = at
        while mm[end] != 0:
            end += 1
        if end == at:
            return types
        types.append(bytes(mm[at:end]).decode("ascii", "replace"))
        at = end + 1


def _u32(mm: np.memmap, offsets: np.ndarray) -> np.ndarray:
    out = np.zeros(len(offsets), dtype=np.uint32)
    for k in range(4):
        out |= mm[offsets + k].astype(np.uint32) << np.uint32(8 * k)
    return out


def html_in_cluster_order(path: Path, archive: Archive) -> tuple[np.ndarray, np.ndarray] | None:
    """(entry ids, their cluster numbers) of the HTML entries, sorted by (cluster, blob); the
    ids are those of `Archive._get_entry_by_id`. None when the file cannot be read so
    (a split .zimaa ZIM, or a layout this does not recognise); scan by id then."""
    if archive.is_multipart:
        return None
    try:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
        count, _, path_ptr, _, _, mime_at = struct.unpack_from("<IIQQQQ", bytes(mm[:64]), 24)
        if count != archive.all_entry_count:
            return None
        html = [i for i, t in enumerate(_mime_types(mm, mime_at)) if t.startswith("text/html")]
        ptrs = mm[path_ptr : path_ptr + 8 * count].view("<u8")  # read in place, not copied
        # the ids of the Python API count from the first user entry (namespace C)
        start = 0
        if archive.has_new_namespace_scheme:
            start = int(np.searchsorted(_namespaces(mm, ptrs), ord("C")))
        ids, clusters, blobs = [], [], []
        stop = start + archive.entry_count
        for lo in range(start, stop, _BLOCK):
            at = ptrs[lo : min(lo + _BLOCK, stop)].astype(np.int64)
            mime = mm[at].astype(np.uint16) | (mm[at + 1].astype(np.uint16) << np.uint16(8))
            keep = np.isin(mime, html) & (mime < _FIRST_SPECIAL_MIME)
            ids.append(np.flatnonzero(keep) + (lo - start))
            clusters.append(_u32(mm, at[keep] + 8))
            blobs.append(_u32(mm, at[keep] + 12))
        id_arr, cluster_arr = np.concatenate(ids), np.concatenate(clusters)
        order = np.lexsort((np.concatenate(blobs), cluster_arr))
        if not _agrees(mm, ptrs, start, archive, id_arr):
            return None
        return id_arr[order], cluster_arr[order]
    except (OSError, ValueError, IndexError, struct.error):
        return None


def _namespaces(mm: np.memmap, ptrs: np.ndarray) -> np.ndarray:
    """The namespace byte of every directory entry (sorted: entries are in path order)."""
    return np.concatenate(
        [mm[ptrs[lo : lo + _BLOCK].astype(np.int64) + 3] for lo in range(0, len(ptrs), _BLOCK)]
    )


def _agrees(mm: np.memmap, ptrs: np.ndarray, start: int, archive: Archive, ids: np.ndarray) -> bool:
    """A few entries' paths read here equal libzim's, so the ids mean the same thing."""
    for i in {int(ids[k]) for k in np.linspace(0, len(ids) - 1, num=min(len(ids), 8), dtype=int)}:
        at = int(ptrs[start + i]) + 16  # after mimetype, parameter length, namespace, revision,
        end = at  # cluster and blob numbers: the path, NUL-terminated
        while mm[end] != 0:
            end += 1
        found = bytes(mm[at:end]).decode("utf-8", "replace")
        if not archive.has_new_namespace_scheme:  # libzim names old-scheme entries "A/path"
            found = f"{chr(mm[int(ptrs[start + i]) + 3])}/{found}"
        if found != archive._get_entry_by_id(i).path:
            return False
    return True
