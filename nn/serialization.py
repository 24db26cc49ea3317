"""Checkpoints without pickle: nn.save(obj, path) / nn.load(path).

The file is an ordinary .npz archive: one entry per array plus `__manifest__`, a JSON
document (stored as bytes) that describes the nested structure (dicts, lists, tuples,
numbers, strings, None, Tensors, arrays) and each array's dtype and device. Dtypes NumPy
cannot store natively (bfloat16) are written as same-width unsigned integers and viewed
back, so every round trip is bit-exact.

Saving is atomic: the archive goes to a temporary file in the target directory (named
`.<name>.nn-save-XXXXXXXX.tmp` and locked while it is written), is fsynced, then renamed
over the target. A save killed half-way leaves the old file intact; its temporary is
removed by the next save into that folder (it is recognised by its name and by no live
process holding its lock).

A few library classes are stored by value, through their plain-data form: `nn.save(history)`
writes a training History (`History.to_dict()`, tagged with the class) and `nn.load` gives a
History back, also inside dicts and lists. The classes come from a fixed table
(`OBJECT_TYPES`), never from a name the file supplies.

Loading trusts nothing in the file: the zip directory, each .npy header and the manifest
are checked (member sizes against `max_bytes` before anything is decompressed, declared
shapes against the bytes actually present, dtypes against a list of plain numeric ones,
nesting depth before the JSON is parsed), arrays are read with zipfile and NumPy's header
parser only, never unpickled, and every problem raises CheckpointError naming the file.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

import autodiff as ad

from .module import Module

try:  # POSIX: a lock tells a live save's temporary file from an abandoned one
    import fcntl
except ImportError:  # pragma: no cover - Windows: abandoned temporaries are left alone
    fcntl = None

__all__ = ["save", "load", "CheckpointError"]

FORMAT = "autodiff-nn-checkpoint"
VERSION = 1
_MANIFEST = "__manifest__"
# Containers (dicts, lists, tuples) nested deeper than this are refused by save and load,
# so neither ever recurses without bound.
MAX_DEPTH = 100
# Default for load's max_bytes: the file's own size plus this much, which every file save
# writes satisfies (it stores arrays uncompressed); only a compressed archive (from another
# tool, or a zip bomb) can expand beyond its size on disk.
DEFAULT_EXPANSION = 256 * 2**20
# Dtypes stored as raw bits in an unsigned integer of the same width.
_BIT_DTYPES = {"bfloat16": (ad.bfloat16, np.dtype(np.uint16))}
_TENSOR_KINDS = "biuf"   # what a Tensor can hold (bool, ints, floats)
_ARRAY_KINDS = "biufc"   # what a plain NumPy array entry can hold (complex too)
_TEMP_TAG = ".nn-save-"
_TEMP_NAME = re.compile(r"\..+" + re.escape(_TEMP_TAG) + r"[a-z0-9_]{8}\.tmp")
_KEY_TYPES = ("none", "bool", "int", "float", "str")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
_READ_CHUNK = 16 * 2**20
#: Objects saved by value: tag -> (module, class name, "method returning plain data",
#: "classmethod rebuilding from it"). The only classes nn.load ever builds; the module is
#: imported when a file needs it (so nn.serialization does not import nn.training).
OBJECT_TYPES = {
    "nn.training.History": ("nn.training.history", "History", "to_dict", "from_dict"),
}
_OBJECT_TAGS = {(module, name): tag for tag, (module, name, _, _) in OBJECT_TYPES.items()}


class CheckpointError(ValueError):
    """A file is not a valid checkpoint (corrupt, truncated, crafted, or from another tool)."""


# ---------------------------------------------------------------- saving

class _Packer:
    def __init__(self):
        self.arrays = {}
        self._active = set()  # ids of containers on the current path (cycle check)

    def _store(self, arr, where: str, kinds: str) -> dict:
        dtype = arr.dtype
        name = f"a{len(self.arrays)}"
        device = ad.tensor(arr).device if not isinstance(arr, np.ndarray) else "cpu"
        host = ad.tensor(arr).numpy() if device != "cpu" else arr
        if str(dtype) in _BIT_DTYPES:
            host = host.view(_BIT_DTYPES[str(dtype)][1])
        elif dtype.kind not in kinds or not dtype.isnative or dtype.names is not None:
            raise TypeError(f"nn.save: {where} has dtype {dtype}, which checkpoints cannot "
                            "store; convert it to a standard numeric dtype first")
        # (not np.ascontiguousarray: it turns 0-d arrays into 1-d ones)
        self.arrays[name] = host if host.flags.c_contiguous else host.copy(order="C")
        return {"a": name, "dtype": str(dtype), "device": device}

    def pack(self, obj, where: str = "obj", depth: int = 0):
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
            spec = self._store(obj.data, where, _TENSOR_KINDS)
            spec.update(t="tensor", requires_grad=bool(obj.requires_grad))
            return spec
        if isinstance(obj, np.generic):
            spec = self._store(np.asarray(obj), where, _ARRAY_KINDS)
            spec["t"] = "npscalar"
            return spec
        if hasattr(obj, "__array_namespace__") and hasattr(obj, "dtype"):
            spec = self._store(obj, where, _ARRAY_KINDS)  # numpy or cupy array
            spec["t"] = "ndarray"
            return spec
        tag = _OBJECT_TAGS.get((type(obj).__module__, type(obj).__qualname__))
        if tag is not None:
            state = getattr(obj, OBJECT_TYPES[tag][2])()
            return {"t": "object", "type": tag, "v": self.pack(state, where, depth + 1)}
        if isinstance(obj, Module):
            raise TypeError(f"nn.save: {where} is a Module ({type(obj).__name__}); checkpoints "
                            "hold state, not code: save model.state_dict() and rebuild the "
                            "model before load_state_dict")
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"nn.save: {where} contains itself (a reference cycle)")
            if depth >= MAX_DEPTH:
                raise ValueError(f"nn.save: {where} is nested more than {MAX_DEPTH} "
                                 "containers deep, which nn.load would refuse; flatten it")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    items = []
                    for k, v in obj.items():
                        if not (k is None or isinstance(k, (bool, int, float, str))):
                            raise TypeError(f"nn.save: {where} has a key of type "
                                            f"{type(k).__name__}; keys must be str, int, "
                                            "float, bool or None")
                        items.append([self.pack(k, where),
                                      self.pack(v, f"{where}[{k!r}]", depth + 1)])
                    return {"t": "dict", "ordered": isinstance(obj, OrderedDict), "v": items}
                kind = "list" if isinstance(obj, list) else "tuple"
                return {"t": kind, "v": [self.pack(v, f"{where}[{i}]", depth + 1)
                                         for i, v in enumerate(obj)]}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"nn.save: {where} is a {type(obj).__name__}, which checkpoints cannot "
                        "hold; use dicts, lists, tuples, numbers, strings, None, Tensors, "
                        f"arrays or {', '.join(OBJECT_TYPES)}")


def save(obj, path) -> None:
    """Write `obj` (a state dict, an optimizer's state_dict(), a training History, or any
    nesting of dicts, lists, tuples, numbers, strings, None, Tensors, arrays and Histories)
    to `path` as .npz, atomically:
    an interrupted save leaves the previous file (if any) untouched, and removes its
    temporary file (or, when the process was killed, the next save into the folder does).
    The file name is used as given (no suffix is appended)."""
    packer = _Packer()
    manifest = {"format": FORMAT, "version": VERSION, "root": packer.pack(obj)}
    blob = np.frombuffer(json.dumps(manifest, separators=(",", ":")).encode("utf-8"),
                         dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_abandoned_temporaries(directory)
    fd, tmp = _locked_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            _write_archive(f, {_MANIFEST: blob, **packer.arrays})
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                # renamed while still open, so the lock covers the file until it has its
                # final name: a concurrent save can never take it for abandoned
                os.replace(tmp, path)
        if fcntl is None:
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


def _locked_temporary(directory: str, base: str):
    """A new temporary file for `base` in `directory`, open and exclusively locked: (fd, path)."""
    while True:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}{_TEMP_TAG}", suffix=".tmp")
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return fd, tmp
        except FileNotFoundError:
            pass
        # another save's cleanup removed it between mkstemp and flock: make another
        os.close(fd)


def _remove_abandoned_temporaries(directory: str) -> None:
    """Delete temporaries of earlier saves into `directory` whose process died (e.g. was
    killed) before renaming them: a live save holds its temporary's lock, a dead one cannot."""
    if fcntl is None:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not _TEMP_NAME.fullmatch(name):
            continue
        tmp = os.path.join(directory, name)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.samestat(os.fstat(fd), os.stat(tmp, follow_symlinks=False)):
                os.unlink(tmp)
        except OSError:
            pass  # locked by a save in progress, or already gone
        finally:
            os.close(fd)


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

class _Invalid(Exception):
    """Raised inside the loader with the problem; load() turns it into CheckpointError."""


# What reading a damaged or crafted archive can raise from zipfile, zlib, struct and
# NumPy's header parser; load() reports each as CheckpointError.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError,
                OverflowError, NotImplementedError, OSError)


class _Archive:
    """The .npy members of a checkpoint's zip, each checked before it is decompressed."""

    def __init__(self, f, limit: int):
        head = f.read(6)
        f.seek(0)
        if not head:
            raise _Invalid("the file is empty")
        if head == b"\x93NUMPY":
            raise _Invalid("it holds a single array, not a checkpoint written by nn.save")
        if not zipfile.is_zipfile(f):
            raise _Invalid("it is not a checkpoint archive (.npz written by nn.save): no zip "
                           "directory was found (a truncated file, a pickle, or another format)")
        f.seek(0)
        self.zip = zipfile.ZipFile(f)
        infos = self.zip.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise _Invalid("the archive lists a member name twice")
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Invalid(f"member {info.filename!r} is not a .npy array")
            if info.flag_bits & 0x1:
                raise _Invalid(f"member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _Invalid(f"member {info.filename!r} uses zip compression method "
                               f"{info.compress_type} (only stored or deflated members are read)")
        total = sum(info.file_size for info in infos)
        if total > limit:
            raise _Invalid(f"its members would take {total:,} bytes once decompressed, more "
                           f"than max_bytes={limit:,}; pass a larger max_bytes= to nn.load if "
                           "you trust this file")
        self.members = {info.filename[:-4]: info for info in infos}

    def read(self, name: str) -> np.ndarray:
        info = self.members[name]
        with self.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise _Invalid(f"array {name!r} has .npy format version {version}")
            if dtype.hasobject:
                raise _Invalid(f"array {name!r} cannot be read without unpickling (dtype "
                               f"{dtype}), which nn.load never does")
            if dtype.kind not in _ARRAY_KINDS or not dtype.isnative or dtype.names is not None:
                raise _Invalid(f"array {name!r} has dtype {dtype}, which nn.save never writes")
            if len(shape) > 64 or any(d < 0 for d in shape):
                raise _Invalid(f"array {name!r} declares an impossible shape {shape}")
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            header = f.tell()
            if header + nbytes != info.file_size:
                raise _Invalid(f"array {name!r} declares shape {shape} of {dtype} ({nbytes:,} "
                               f"bytes) but the member holds {info.file_size - header:,} bytes")
            flat = np.empty(count, dtype)
            raw = memoryview(flat.view(np.uint8))
            done = 0
            while done < nbytes:  # in chunks: never a second full-size buffer
                got = f.readinto(raw[done:done + _READ_CHUNK])
                if not got:
                    raise _Invalid(f"array {name!r} is truncated")
                done += got
            if f.read(1):  # also makes zipfile verify the member's CRC-32
                raise _Invalid(f"array {name!r} is longer than its header says")
        return flat.reshape(shape, order="F" if fortran else "C")


def _json_depth(raw: bytes) -> int:
    """How deeply the JSON text nests arrays and objects (strings ignored), without parsing it."""
    code = np.frombuffer(re.sub(rb'"(?:[^"\\]|\\.)*"', b"", raw), dtype=np.uint8)
    step = (np.isin(code, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(code, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max(initial=0))


class _Unpacker:
    def __init__(self, archive: _Archive, device):
        self.archive = archive
        self.device = device

    def _array(self, spec, kinds):
        name, dtype_name = spec.get("a"), spec.get("dtype")
        if not isinstance(name, str) or name == _MANIFEST or name not in self.archive.members:
            raise _Invalid(f"the manifest refers to a missing array {name!r}")
        arr = self.archive.read(name)
        if dtype_name in _BIT_DTYPES:
            dtype, storage = _BIT_DTYPES[dtype_name]
            if arr.dtype != storage:
                raise _Invalid(f"array {name!r} is {arr.dtype}, expected {storage} bits for "
                               f"{dtype_name}")
            arr = arr.view(dtype)
        elif not isinstance(dtype_name, str) or str(arr.dtype) != dtype_name:
            raise _Invalid(f"array {name!r} has dtype {arr.dtype} but the manifest says "
                           f"{dtype_name!r}")
        elif arr.dtype.kind not in kinds:
            raise _Invalid(f"array {name!r} has dtype {arr.dtype}, which a "
                           f"{spec['t']} entry cannot hold")
        device = spec.get("device", "cpu")
        if not (isinstance(device, str) and _DEVICE.fullmatch(device)):
            raise _Invalid(f"array {name!r} has an unknown device {device!r}")
        return arr, self.device if self.device is not None else device

    def _object(self, tag, state_spec, depth: int):
        """An OBJECT_TYPES instance rebuilt from its saved plain data."""
        if not isinstance(tag, str) or tag not in OBJECT_TYPES:
            raise _Invalid(f"unknown object type {str(tag)[:60]!r} (nn.load builds only "
                           f"{', '.join(OBJECT_TYPES)})")
        module, name, _, rebuild = OBJECT_TYPES[tag]
        state = self.unpack(state_spec, depth + 1)
        try:
            return getattr(getattr(importlib.import_module(module), name), rebuild)(state)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Invalid(f"a {tag} entry holds data it cannot be built from ({exc})") from None

    def unpack(self, spec, depth: int = 0):
        if not isinstance(spec, dict):
            raise _Invalid(f"bad manifest entry of type {type(spec).__name__}")
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
            except (ValueError, OverflowError):
                raise _Invalid(f"bad float {v[:40]!r}") from None
        if t == "str" and isinstance(v, str):
            return v
        if t in ("list", "tuple", "dict", "object") and depth >= MAX_DEPTH:
            raise _Invalid(f"containers are nested more than {MAX_DEPTH} deep")
        if t in ("list", "tuple") and isinstance(v, list):
            items = [self.unpack(s, depth + 1) for s in v]
            return items if t == "list" else tuple(items)
        if t == "dict" and isinstance(v, list):
            out = OrderedDict() if spec.get("ordered") else {}
            for pair in v:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], dict)
                        and pair[0].get("t") in _KEY_TYPES):
                    raise _Invalid("bad dict entry (not a [key, value] pair with a str, int, "
                                   "float, bool or None key)")
                out[self.unpack(pair[0])] = self.unpack(pair[1], depth + 1)
            return out
        if t == "object":
            return self._object(spec.get("type"), v, depth)
        if t == "tensor":
            arr, device = self._array(spec, _TENSOR_KINDS)
            requires_grad = spec.get("requires_grad", False)
            if not isinstance(requires_grad, bool):
                raise _Invalid(f"requires_grad is {requires_grad!r}, not a bool")
            if requires_grad and not (arr.dtype.kind == "f" or arr.dtype == ad.bfloat16):
                raise _Invalid(f"a {arr.dtype} tensor is marked requires_grad (only floating "
                               "tensors can require gradients)")
            out = ad.tensor(arr, device=device)  # the arrays are fresh: no aliasing
            return out.requires_grad_(True) if requires_grad else out
        if t == "ndarray":
            arr, device = self._array(spec, _ARRAY_KINDS)
            return ad.tensor(arr, device=device).data if device != "cpu" else arr
        if t == "npscalar":
            arr, _ = self._array(spec, _ARRAY_KINDS)
            if arr.shape != ():
                raise _Invalid("a NumPy scalar entry is not 0-d")
            return arr[()]
        raise _Invalid(f"unknown or malformed manifest entry of type {str(t)[:40]!r}")


def load(path, map_location="cpu", *, max_bytes=None):
    """Read a checkpoint written by `save`, never unpickling anything.

    Tensors and arrays are placed on `map_location` ("cpu" by default, so a checkpoint
    saved on a GPU loads anywhere; "cuda"/"cuda:N"; or None for the device each was saved
    from). `max_bytes` bounds the total size of the archive's members once decompressed,
    checked before anything is read (default: the file's size plus 256 MiB, which every
    file `save` writes satisfies). Raises CheckpointError, naming the file and the problem,
    for anything that is not a valid checkpoint; FileNotFoundError if there is no file.
    """
    path = os.fspath(path)
    device = None if map_location is None else str(map_location)
    if device is not None:
        device = ad.zeros(0, device=device).device  # a bad map_location fails here, clearly
    with open(path, "rb") as f:
        limit = os.fstat(f.fileno()).st_size + DEFAULT_EXPANSION if max_bytes is None \
            else int(max_bytes)
        try:
            return _read(f, limit, device)
        except _Invalid as exc:
            why = str(exc)
        except RecursionError:  # not expected (depth is checked); a guarantee all the same
            why = "it is nested too deeply to read"
        except _READ_ERRORS as exc:
            why = f"it is damaged or truncated ({type(exc).__name__}: {exc})"
    raise CheckpointError(f"nn.load: {path} is not a valid checkpoint: {why}")


def _read(f, limit: int, device):
    archive = _Archive(f, limit)
    if _MANIFEST not in archive.members:
        raise _Invalid("it has no manifest (was it written by nn.save?)")
    raw = archive.read(_MANIFEST)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Invalid(f"the manifest is {raw.dtype} {raw.shape}, not uint8 bytes")
    text = raw.tobytes()
    if _json_depth(text) > 3 * MAX_DEPTH + 2:  # a dict level is 3 JSON levels deep
        raise _Invalid(f"the manifest has containers nested more than {MAX_DEPTH} deep")
    try:
        manifest = json.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Invalid(f"unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _Invalid("the manifest is not an nn.save manifest")
    if manifest.get("version") != VERSION:
        raise _Invalid(f"format version {repr(manifest.get('version'))[:20]}; this library "
                       f"reads version {VERSION}")
    return _Unpacker(archive, device).unpack(manifest.get("root"))
