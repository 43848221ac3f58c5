"""Land or sea, from global-land-mask's 1 km GLOBE grid, without its cost.

`global_land_mask.globe` inflates its 21600 x 43200 boolean ocean mask into ~930 MB
of memory at import (seconds of CPU). Here the packaged .npz is streamed once into a
bit-packed copy (117 MB) under the geo data directory and memory-mapped after that, so
a lookup reads one byte from disk and any number of processes share the page cache.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from gre_agent.core.errors import ErrorKind, ToolFailure

MASK_NAME = "globe_combined_mask_compressed.npz"
PACKED_NAME = "land_mask_packed.npy"


def packaged_mask_path() -> Path:
    # Located, not imported: importing global_land_mask inflates the whole mask.
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise ToolFailure(
            ErrorKind.unavailable, "global-land-mask is not installed: pip install global-land-mask"
        )
    return Path(next(iter(spec.submodule_search_locations))) / MASK_NAME


@dataclass(frozen=True)
class LandMask:
    ocean_bits: np.ndarray  # uint8 (rows, cols / 8), 1 = ocean, rows from 90 N down
    lat0: float
    lat_step: float
    lat_range: tuple[float, float]
    lon0: float
    lon_step: float
    lon_range: tuple[float, float]

    def is_land(self, lat: float, lon: float) -> bool:
        # Same indexing as global_land_mask.globe (clip to the grid, then truncate).
        lat = min(max(lat, self.lat_range[0]), self.lat_range[1])
        lon = min(max(lon, self.lon_range[0]), self.lon_range[1])
        row = int((lat - self.lat0) / self.lat_step)
        col = int((lon - self.lon0) / self.lon_step)
        ocean = (int(self.ocean_bits[row, col // 8]) >> (7 - col % 8)) & 1
        return not ocean


_build_lock = threading.Lock()  # concurrent first calls build once, not once each


@cache
def land_mask(data_dir: Path) -> LandMask:
    """The mask, building its packed copy in `data_dir` on first use (2-10 s)."""
    source = packaged_mask_path()
    packed = data_dir / PACKED_NAME
    with _build_lock:
        if not packed.is_file():
            _build(source, packed)
    with np.load(source) as npz:
        lat, lon = npz["lat"], npz["lon"]
    return LandMask(
        ocean_bits=np.load(packed, mmap_mode="r"),
        lat0=float(lat[0]),
        lat_step=float(lat[1] - lat[0]),
        lat_range=(float(lat.min()), float(lat.max())),
        lon0=float(lon[0]),
        lon_step=float(lon[1] - lon[0]),
        lon_range=(float(lon.min()), float(lon.max())),
    )


def _build(source: Path, target: Path, rows_per_chunk: int = 600) -> None:
    """Stream mask.npy out of the .npz row block by row block into packed bits."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write under a temporary name and rename: concurrent builders never see half a file.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".land_mask-", suffix=".npy")
    os.close(fd)
    try:
        with zipfile.ZipFile(source) as archive, archive.open("mask.npy") as fh:
            version = npy_format.read_magic(fh)
            read_header = (
                npy_format.read_array_header_1_0
                if version == (1, 0)
                else npy_format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            if fortran or dtype != np.bool_ or len(shape) != 2:
                raise ToolFailure(ErrorKind.unavailable, f"unexpected land mask layout in {source}")
            rows, cols = shape
            out = npy_format.open_memmap(
                tmp_name, mode="w+", dtype=np.uint8, shape=(rows, (cols + 7) // 8)
            )
            for start in range(0, rows, rows_per_chunk):
                count = min(rows_per_chunk, rows - start)
                block = np.frombuffer(fh.read(count * cols), dtype=np.bool_).reshape(count, cols)
                out[start : start + count] = np.packbits(block, axis=1)
            out.flush()
            del out
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
