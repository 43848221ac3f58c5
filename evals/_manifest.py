"""The run manifest (RUN_DIR/manifest.json): what was run, on what, with what, and when.

Two runs (or shards, or a run and its resumption) belong together when their dataset
fingerprint and their `config` are equal; `runtime` (endpoints, concurrency, limit) may
differ between machines and sessions.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from gre_agent.core.errors import GreError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
PACKAGES = (
    "gre-agent",
    "langgraph",
    "pydantic",
    "httpx",
    "numpy",
    "pyproj",
    "Pillow",
    "transformers",
    "torch",
    "vllm",
)


class ManifestError(GreError, ValueError):
    """A run folder that holds another run (other dataset or config), or a bad manifest."""


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, Any] | None:
    """The commit of the source tree this package runs from (editable installs), if any."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())} if head else None


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{run_dir} is not an evaluation run (no {MANIFEST_NAME})") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: not a version-{MANIFEST_VERSION} run manifest")
    return data


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Atomic (temp file, fsync, rename): a crash leaves the old or the new manifest."""
    path = Path(run_dir) / MANIFEST_NAME
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=2, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


def session_record() -> dict[str, Any]:
    return {
        "started": time.time(),
        "ended": None,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": sys.argv,
        "rows_written": 0,
        "complete": False,
    }


def incompatibility(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two manifests cannot be one run (resume or merge), or None."""
    fa, fb = a.get("dataset", {}).get("fingerprint"), b.get("dataset", {}).get("fingerprint")
    if fa != fb:
        return f"dataset fingerprints differ ({fa} vs {fb})"
    ca, cb = a.get("config", {}), b.get("config", {})
    diff = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    if diff:
        shown = ", ".join(f"{k}: {ca.get(k)!r} vs {cb.get(k)!r}" for k in diff)
        return f"configurations differ ({shown})"
    return None
