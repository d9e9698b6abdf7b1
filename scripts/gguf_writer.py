#!/usr/bin/python3
"""gguf_writer.py: a small GGUF v3 writer (numpy + struct), written from the
GGUF specification (ggml's docs/gguf.md).

File layout (all little-endian):
    magic "GGUF", uint32 version 3, uint64 tensor_count, uint64 kv_count,
    kv_count x (string key, uint32 value_type, value),
    tensor_count x (string name, uint32 n_dims, n_dims x uint64 ne,
                    uint32 ggml_type, uint64 offset within the data section),
    zero padding to ALIGNMENT, then each tensor's bytes at its offset
    (every offset a multiple of ALIGNMENT, zero padding between tensors).
A string is uint64 length + UTF-8 bytes (no NUL).  ne[0] varies fastest, so a
numpy array of shape (out, in) in C order is written with ne = (in, out).

Tensor types: F32, F16, Q8_0 and Q4_0 (ggml's block layouts, 32 values a
block along ne[0]):
    Q8_0: f16 d = amax / 127, then 32 x int8 q = round(x / d)    (34 bytes)
    Q4_0: f16 d = m / -8 where m is the value of largest magnitude, then
          16 bytes: q = min(15, trunc(x / d + 8.5)); byte j holds element j
          in its low nibble and element j + 16 in its high nibble (18 bytes)
The rounding follows ggml's reference quantizers: x * (1/d) in float32 with
the float32 d, round half away from zero for Q8_0.

    w = GGUFWriter()
    w.add_string("general.architecture", "gpt2")
    w.add_uint32("gpt2.block_count", 12)
    w.add_tensor("token_embd.weight", wte, GGML_F16)   # wte: (V, C) -> ne {C, V}
    w.write("out.gguf", progress=print)
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# Metadata value types (GGUF specification).
T_UINT8, T_INT8, T_UINT16, T_INT16 = 0, 1, 2, 3
T_UINT32, T_INT32, T_FLOAT32, T_BOOL = 4, 5, 6, 7
T_STRING, T_ARRAY = 8, 9
T_UINT64, T_INT64, T_FLOAT64 = 10, 11, 12

# struct codes of the fixed-size metadata types.
_SCALAR_FMT = {
    T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h",
    T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?",
    T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d",
}
_ARRAY_DTYPE = {
    T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2",
    T_UINT32: "<u4", T_INT32: "<i4", T_FLOAT32: "<f4", T_BOOL: "<u1",
    T_UINT64: "<u8", T_INT64: "<i8", T_FLOAT64: "<f8",
}

# Tensor element types (ggml numbering).
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
QK = 32  # elements per Q8_0 / Q4_0 block
TYPE_NAMES = {GGML_F32: "f32", GGML_F16: "f16", GGML_Q8_0: "q8_0", GGML_Q4_0: "q4_0"}
TYPE_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}
# (bytes per block, elements per block)
TYPE_BLOCK = {GGML_F32: (4, 1), GGML_F16: (2, 1), GGML_Q8_0: (2 + QK, QK), GGML_Q4_0: (2 + QK // 2, QK)}

# general.file_type ("mostly X")
FILE_TYPE = {GGML_F32: 0, GGML_F16: 1, GGML_Q4_0: 2, GGML_Q8_0: 7}


def align_up(n, a=ALIGNMENT):
    return (n + a - 1) // a * a


def _gguf_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


# ---- quantization ----------------------------------------------------------------

def quantize_q8_0(x):
    """x: float array whose last dim is a multiple of 32 -> bytes of Q8_0 blocks."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)  # (nblocks, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.zeros_like(d)
    np.divide(np.float32(1), d, out=inv, where=d != 0)
    v = x * inv[:, None]
    # roundf: half away from zero. The + 0.5 in float64: in float32, 0.49999997 + 0.5
    # rounds up to 1.0 and the result would differ from ggml's roundf.
    q = np.sign(v) * np.floor(np.abs(v).astype(np.float64) + 0.5)
    out = np.empty(x.shape[0], dtype=[("d", "<f2"), ("qs", "i1", (QK,))])
    out["d"] = d.astype(np.float16)
    out["qs"] = q.astype(np.int8)
    return out.tobytes()


def quantize_q4_0(x):
    """x: float array whose last dim is a multiple of 32 -> bytes of Q4_0 blocks."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)  # (nblocks, 32)
    idx = np.abs(x).argmax(axis=1)  # first element of largest magnitude, as ggml's strict '<'
    m = x[np.arange(x.shape[0]), idx]
    d = (m / np.float32(-8)).astype(np.float32)
    inv = np.zeros_like(d)
    np.divide(np.float32(1), d, out=inv, where=d != 0)
    v = x * inv[:, None] + np.float32(8.5)
    q = np.minimum(np.trunc(v), 15).astype(np.uint8)  # v >= 0 up to rounding: trunc == int8 cast
    out = np.empty(x.shape[0], dtype=[("d", "<f2"), ("qs", "u1", (QK // 2,))])
    out["d"] = d.astype(np.float16)
    out["qs"] = q[:, : QK // 2] | (q[:, QK // 2:] << 4)
    return out.tobytes()


def dequantize(data, ggml_type, n):
    """Bytes of n elements of a tensor -> float32 array (used by tests)."""
    if ggml_type == GGML_F32:
        return np.frombuffer(data, "<f4", n).copy()
    if ggml_type == GGML_F16:
        return np.frombuffer(data, "<f2", n).astype(np.float32)
    nb = n // QK
    if ggml_type == GGML_Q8_0:
        b = np.frombuffer(data, [("d", "<f2"), ("qs", "i1", (QK,))], nb)
        return (b["d"].astype(np.float32)[:, None] * b["qs"].astype(np.float32)).reshape(-1)
    if ggml_type == GGML_Q4_0:
        b = np.frombuffer(data, [("d", "<f2"), ("qs", "u1", (QK // 2,))], nb)
        q = np.concatenate([b["qs"] & 15, b["qs"] >> 4], axis=1).astype(np.float32) - 8
        return (b["d"].astype(np.float32)[:, None] * q).reshape(-1)
    raise ValueError("unknown ggml type %d" % ggml_type)


def tensor_bytes(arr, ggml_type):
    """Encode a numpy array as ggml_type; its last dim (ne[0]) must fit the block size."""
    if ggml_type == GGML_F32:
        return np.ascontiguousarray(arr, dtype="<f4").tobytes()
    if ggml_type == GGML_F16:
        return np.ascontiguousarray(arr, dtype="<f2").tobytes()
    if arr.shape[-1] % QK:
        raise ValueError("ne[0]=%d is not a multiple of %d" % (arr.shape[-1], QK))
    if ggml_type == GGML_Q8_0:
        return quantize_q8_0(arr)
    if ggml_type == GGML_Q4_0:
        return quantize_q4_0(arr)
    raise ValueError("unknown ggml type %d" % ggml_type)


# ---- the writer --------------------------------------------------------------------

class BlockWriter:
    """A file written in whole 4 MiB blocks at 4 MiB offsets (the last one
    shorter), so that the page cache keeps it in 2 MiB folios, which the
    engine's mmap then gets as huge pages. Writes at other offsets leave the
    file cached in small folios, and weights streamed through 4 KiB pages
    decode up to a quarter slower."""

    BLOCK = 4 << 20

    def __init__(self, path):
        self.f = open(path, "wb", buffering=0)
        self.buf = bytearray()

    def write(self, data):
        mv = memoryview(data).cast("B")
        if self.buf:  # top up the pending block first
            k = min(len(mv), self.BLOCK - len(self.buf))
            self.buf += mv[:k]
            mv = mv[k:]
            if len(self.buf) < self.BLOCK:
                return
            self._write_all(self.buf)
            self.buf = bytearray()
        n = len(mv) - len(mv) % self.BLOCK
        if n:
            self._write_all(mv[:n])
        self.buf += mv[n:]

    def _write_all(self, mv):
        mv = memoryview(mv)
        while len(mv):
            mv = mv[self.f.write(mv):]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None and self.buf:
                self._write_all(self.buf)
        finally:
            self.f.close()


class GGUFWriter:
    """Collects metadata and tensors, then writes them in one pass.

    Tensors are kept as numpy arrays and encoded one at a time while writing,
    so a large model is not held twice in memory."""

    def __init__(self):
        self.kv = []        # (key, encoded value bytes incl. type)
        self.keys = set()
        self.tensors = []   # (name, array, ggml_type, ne, nbytes)

    # metadata
    def _add(self, key, payload):
        if key in self.keys:
            raise ValueError("duplicate metadata key %s" % key)
        self.keys.add(key)
        self.kv.append((key, payload))

    def add_scalar(self, key, vtype, value):
        self._add(key, struct.pack("<I", vtype) + struct.pack(_SCALAR_FMT[vtype], value))

    def add_uint32(self, key, v):
        self.add_scalar(key, T_UINT32, int(v))

    def add_int32(self, key, v):
        self.add_scalar(key, T_INT32, int(v))

    def add_float32(self, key, v):
        self.add_scalar(key, T_FLOAT32, float(v))

    def add_bool(self, key, v):
        self.add_scalar(key, T_BOOL, bool(v))

    def add_string(self, key, s):
        self._add(key, struct.pack("<I", T_STRING) + _gguf_string(s))

    def add_array(self, key, elem_type, values):
        """An array of one element type: strings, or numbers packed with numpy."""
        head = struct.pack("<IIQ", T_ARRAY, elem_type, len(values))
        if elem_type == T_STRING:
            body = b"".join(_gguf_string(s) for s in values)
        elif elem_type in _ARRAY_DTYPE:
            body = np.asarray(values).astype(_ARRAY_DTYPE[elem_type]).tobytes()
        else:
            raise ValueError("unsupported array element type %d" % elem_type)
        self._add(key, head + body)

    # tensors
    def add_tensor(self, name, arr, ggml_type=GGML_F32):
        """arr: numpy array in C order, shape (..., ne[1], ne[0])."""
        if len(name.encode()) > 64:
            raise ValueError("tensor name longer than 64 bytes: %s" % name)
        if any(t[0] == name for t in self.tensors):
            raise ValueError("duplicate tensor %s" % name)
        arr = np.asarray(arr)
        if arr.ndim < 1 or arr.ndim > 4:
            raise ValueError("%s: %d dims (1..4 allowed)" % (name, arr.ndim))
        ne = tuple(int(n) for n in reversed(arr.shape))
        bb, be = TYPE_BLOCK[ggml_type]
        n = int(np.prod(arr.shape))
        if ne[0] % be:
            raise ValueError("%s: ne[0]=%d is not a multiple of the %s block size %d"
                             % (name, ne[0], TYPE_NAMES[ggml_type], be))
        self.tensors.append((name, arr, ggml_type, ne, n // be * bb))

    def _header(self):
        out = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, payload in self.kv:
            out.append(_gguf_string(key))
            out.append(payload)
        offset = 0
        for name, _, ggml_type, ne, nbytes in self.tensors:
            out.append(_gguf_string(name))
            out.append(struct.pack("<I", len(ne)))
            out.append(struct.pack("<%dQ" % len(ne), *ne))
            out.append(struct.pack("<IQ", ggml_type, offset))
            offset = align_up(offset + nbytes)
        return b"".join(out)

    def write(self, path, progress=None):
        """Write the file; progress(i, n, name) is called after each tensor."""
        header = self._header()
        with BlockWriter(path) as f:
            f.write(header)
            f.write(b"\0" * (align_up(len(header)) - len(header)))
            for i, (name, arr, ggml_type, ne, nbytes) in enumerate(self.tensors):
                data = tensor_bytes(arr, ggml_type)
                if len(data) != nbytes:
                    raise AssertionError("%s: %d bytes, expected %d" % (name, len(data), nbytes))
                f.write(data)
                f.write(b"\0" * (align_up(nbytes) - nbytes))
                if progress:
                    progress(i + 1, len(self.tensors), name)
