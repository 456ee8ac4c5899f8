"""What is known about each job of a study: its state, timing, log and the files it made.

Every job has a record, ``<output>/jobs/<key>.json`` (the key's ``/`` written as
``__``), and a log beside it (``.log``). A record says ``running`` while the job runs,
then ``done`` (with each artefact file's size and digest) or ``failed`` (with the
error). A record belongs to one version of the study: it carries the study's
fingerprint, so a changed study file makes every job pending again (the stages then
find their unchanged artefacts cached and return at once).

A done job is skipped only while its artefacts are intact: :func:`verify` compares
every recorded file's size and digest (BLAKE2b of the whole file up to 64 MiB, of its
first and last 8 MiB beyond), so a truncated or overwritten artefact is detected, removed
and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from atlasbench.io.atomic import write_text_atomic
from atlasbench.study.schema import Study

_WHOLE = 64 << 20
_EDGE = 8 << 20


def study_fingerprint(study: Study) -> str:
    """Hash of everything in the study that shapes results (not where jobs run)."""
    sections = [name for name in type(study).model_fields if name not in ("executor", "description")]
    return study.hash_of(*sections)


def record_path(study: Study, key: str) -> Path:
    """The record file of a job."""
    return study.output / "jobs" / (key.replace("/", "__") + ".json")


def log_path(study: Study, key: str) -> Path:
    """The log file of a job."""
    return record_path(study, key).with_suffix(".log")


def read_record(study: Study, key: str) -> dict[str, Any] | None:
    """A job's record, or None when it has none (or one from another version of the study)."""
    path = record_path(study, key)
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if record.get("study") == study_fingerprint(study) else None


def write_record(study: Study, key: str, state: str, **fields: Any) -> dict[str, Any]:
    """Write a job's record (atomically), keeping the fields of the previous one."""
    record = read_record(study, key) or {}
    record.update(
        key=key,
        study=study_fingerprint(study),
        state=state,
        host=socket.gethostname(),
        pid=os.getpid(),
        updated=time.time(),
        **fields,
    )
    write_text_atomic(record_path(study, key), json.dumps(record, indent=1, default=str))
    return record


def digest(path: Path) -> str:
    """BLAKE2b of a file: all of it up to 64 MiB, else its size, first and last 8 MiB."""
    h = hashlib.blake2b(digest_size=16)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if size <= _WHOLE:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(str(size).encode())
            h.update(handle.read(_EDGE))
            handle.seek(size - _EDGE)
            h.update(handle.read(_EDGE))
    return h.hexdigest()


def _files(outputs: Iterable[Path]) -> list[Path]:
    found = []
    for out in outputs:
        found.extend(sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out])
    return found


def describe_outputs(study: Study, outputs: Iterable[Path]) -> dict[str, Any]:
    """Fields of a done record: the artefacts and each of their files' size and digest."""
    outputs = [Path(o) for o in outputs]
    files = {str(p.relative_to(study.output)): [p.stat().st_size, digest(p)] for p in _files(outputs)}
    return {"outputs": [str(o.relative_to(study.output)) for o in outputs], "files": files}


def verify(study: Study, record: dict[str, Any]) -> str | None:
    """Why a done job's artefacts are not intact, or None when they are."""
    for name, (size, expected) in record.get("files", {}).items():
        path = study.output / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} when written"
        if digest(path) != expected:
            return f"{name} differs from what the job wrote"
    return None


def remove_outputs(study: Study, record: dict[str, Any]) -> None:
    """Delete a job's artefacts, so that its stage rebuilds them."""
    for name in record.get("outputs", []):
        path = study.output / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
