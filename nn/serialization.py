"""Checkpoints without pickle: nn.save(obj, path) / nn.load(path).

The file is an ordinary .npz archive: one entry per array plus `__manifest__`, a JSON
document (stored as bytes) that describes the nested structure (dicts, lists, tuples,
numbers, strings, None, Tensors, arrays) and each array's dtype and device. Loading uses
`np.load(allow_pickle=False)` only, so a checkpoint can never run code. Dtypes NumPy cannot
store natively (bfloat16) are written as same-width unsigned integers and viewed back, so
every round trip is bit-exact. The write is atomic: the archive goes to a temporary file in
the target directory, is fsynced, then renamed over the target.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

import autodiff as ad

from .module import Module

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "autodiff-nn-checkpoint"
VERSION = 1
_MANIFEST = "__manifest__"
# Dtypes stored as raw bits in an unsigned integer of the same width.
_BIT_DTYPES = {"bfloat16": (ad.bfloat16, np.dtype(np.uint16))}
_NATIVE_KINDS = "biufc"


class CheckpointError(ValueError):
    """A file is not a valid checkpoint (corrupt, crafted, or from another tool)."""


# ---------------------------------------------------------------- saving

class _Packer:
    def __init__(self):
        self.arrays = {}
        self._active = set()  # ids of containers on the current path (cycle check)

    def _store(self, arr, where: str) -> dict:
        dtype = arr.dtype
        name = f"a{len(self.arrays)}"
        device = ad.tensor(arr).device if not isinstance(arr, np.ndarray) else "cpu"
        host = ad.tensor(arr).numpy() if device != "cpu" else arr
        if str(dtype) in _BIT_DTYPES:
            host = host.view(_BIT_DTYPES[str(dtype)][1])
        elif dtype.kind not in _NATIVE_KINDS or dtype.byteorder not in "=|<":
            raise TypeError(f"nn.save: {where} has dtype {dtype}, which checkpoints cannot "
                            "store; convert it to a standard numeric dtype first")
        # (not np.ascontiguousarray: it turns 0-d arrays into 1-d ones)
        self.arrays[name] = host if host.flags.c_contiguous else host.copy(order="C")
        return {"a": name, "dtype": str(dtype), "device": device}

    def pack(self, obj, where: str = "obj"):
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": float(obj).hex()}  # hex: exact, and covers inf/nan
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, ad.Tensor):
            spec = self._store(obj.data, where)
            spec.update(t="tensor", requires_grad=bool(obj.requires_grad))
            return spec
        if isinstance(obj, np.generic):
            spec = self._store(np.asarray(obj), where)
            spec["t"] = "npscalar"
            return spec
        if hasattr(obj, "__array_namespace__") and hasattr(obj, "dtype"):
            spec = self._store(obj, where)  # numpy or cupy array
            spec["t"] = "ndarray"
            return spec
        if isinstance(obj, Module):
            raise TypeError(f"nn.save: {where} is a Module ({type(obj).__name__}); checkpoints "
                            "hold state, not code: save model.state_dict() and rebuild the "
                            "model before load_state_dict")
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"nn.save: {where} contains itself (a reference cycle)")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = []
                    for k, v in obj.items():
                        if not (k is None or isinstance(k, (bool, int, float, str))):
                            raise TypeError(f"nn.save: {where} has a key of type "
                                            f"{type(k).__name__}; keys must be str, int, "
                                            "float, bool or None")
                        items.append([self.pack(k, where), self.pack(v, f"{where}[{k!r}]")])
                    return {"t": "dict", "ordered": isinstance(obj, OrderedDict), "v": items}
                kind = "list" if isinstance(obj, list) else "tuple"
                return {"t": kind, "v": [self.pack(v, f"{where}[{i}]")
                                         for i, v in enumerate(obj)]}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"nn.save: {where} is a {type(obj).__name__}, which checkpoints cannot "
                        "hold; use dicts, lists, tuples, numbers, strings, None, Tensors or "
                        "arrays")


def save(obj, path) -> None:
    """Write `obj` (a state dict, an optimizer's state_dict(), or any nesting of dicts,
    lists, tuples, numbers, strings, None, Tensors and arrays) to `path` as .npz, atomically:
    an interrupted save leaves the previous file (if any) untouched. The file name is used
    as given (no suffix is appended)."""
    packer = _Packer()
    manifest = {"format": FORMAT, "version": VERSION, "root": packer.pack(obj)}
    blob = np.frombuffer(json.dumps(manifest, separators=(",", ":")).encode("utf-8"),
                         dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, {_MANIFEST: blob, **packer.arrays})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _write_archive(f, arrays: dict) -> None:
    """The .npz body (a separate function so tests can interrupt it)."""
    np.savez(f, **arrays)


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) everywhere.
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ---------------------------------------------------------------- loading

class _Unpacker:
    def __init__(self, archive, device, path):
        self.archive = archive
        self.device = device
        self.path = path

    def _fail(self, why):
        raise CheckpointError(f"nn.load: {self.path} is not a valid checkpoint: {why}")

    def _array(self, spec):
        name, dtype_name = spec.get("a"), spec.get("dtype")
        if not isinstance(name, str) or name == _MANIFEST or name not in self.archive.files:
            self._fail(f"the manifest refers to a missing array {name!r}")
        try:
            arr = self.archive[name]
        except ValueError as exc:  # object arrays need pickle, which we refuse
            self._fail(f"array {name!r} cannot be read without unpickling ({exc})")
        if dtype_name in _BIT_DTYPES:
            dtype, storage = _BIT_DTYPES[dtype_name]
            if arr.dtype != storage:
                self._fail(f"array {name!r} is {arr.dtype}, expected {storage} bits for "
                           f"{dtype_name}")
            arr = arr.view(dtype)
        elif not isinstance(dtype_name, str) or str(arr.dtype) != dtype_name:
            self._fail(f"array {name!r} has dtype {arr.dtype} but the manifest says "
                       f"{dtype_name!r}")
        device = self.device if self.device is not None else spec.get("device", "cpu")
        return arr, device

    def unpack(self, spec):
        if not isinstance(spec, dict):
            self._fail(f"bad manifest entry {spec!r}")
        t = spec.get("t")
        v = spec.get("v")
        if t == "none":
            return None
        if t == "bool" and isinstance(v, bool):
            return v
        if t == "int" and isinstance(v, int) and not isinstance(v, bool):
            return v
        if t == "float" and isinstance(v, str):
            try:
                return float.fromhex(v)
            except ValueError:
                self._fail(f"bad float {v!r}")
        if t == "str" and isinstance(v, str):
            return v
        if t in ("list", "tuple") and isinstance(v, list):
            items = [self.unpack(s) for s in v]
            return items if t == "list" else tuple(items)
        if t == "dict" and isinstance(v, list):
            out = OrderedDict() if spec.get("ordered") else {}
            for pair in v:
                if not (isinstance(pair, list) and len(pair) == 2):
                    self._fail(f"bad dict entry {pair!r}")
                key = self.unpack(pair[0])
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    self._fail(f"bad dict key {pair[0]!r}")
                out[key] = self.unpack(pair[1])
            return out
        if t == "tensor":
            arr, device = self._array(spec)
            out = ad.tensor(arr, device=device)  # np.load gives fresh arrays: no aliasing
            if spec.get("requires_grad") is True:
                out.requires_grad_(True)
            return out
        if t == "ndarray":
            arr, device = self._array(spec)
            return ad.tensor(arr, device=device).data if device != "cpu" else arr
        if t == "npscalar":
            arr, _ = self._array(spec)
            if arr.shape != ():
                self._fail("a NumPy scalar entry is not 0-d")
            return arr[()]
        self._fail(f"unknown manifest entry type {t!r}")


def load(path, map_location="cpu"):
    """Read a checkpoint written by `save`, never unpickling anything.

    Tensors and arrays are placed on `map_location` ("cpu" by default, so a checkpoint
    saved on a GPU loads anywhere; "cuda"/"cuda:N"; or None for the device each was saved
    from). Raises CheckpointError for files that are not valid checkpoints.
    """
    path = os.fspath(path)
    device = None if map_location is None else str(map_location)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CheckpointError(f"nn.load: {path} is not a checkpoint archive (.npz written by "
                              f"nn.save); refusing to read it ({exc})") from exc
    if not hasattr(archive, "files"):
        raise CheckpointError(f"nn.load: {path} holds a single array, not a checkpoint "
                              "written by nn.save")
    with archive:
        unpacker = _Unpacker(archive, device, path)
        if _MANIFEST not in archive.files:
            unpacker._fail("it has no manifest (was it written by nn.save?)")
        try:
            raw = archive[_MANIFEST]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise ValueError(f"manifest array is {raw.dtype} {raw.shape}, not uint8 bytes")
            manifest = json.loads(raw.tobytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            unpacker._fail(f"unreadable manifest ({exc})")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            unpacker._fail("the manifest is not an nn.save manifest")
        if manifest.get("version") != VERSION:
            unpacker._fail(f"format version {manifest.get('version')!r}; this library reads "
                           f"version {VERSION}")
        return unpacker.unpack(manifest.get("root"))
