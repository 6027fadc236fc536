"""Reads what an import needs from a GGUF file's header (architecture, quantization) and checks
that the file holds all its tensor data, so a truncated download fails in milliseconds.

gguf's own `GGUFReader` maps every tokenizer string into numpy views (5-13 s for SmolLM2 on
2 cores); this reads the header once, skipping the values it does not need.
"""

import mmap
import struct
from collections import Counter
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, LlamaFileType
from gguf.constants import GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC

from bot.import_errors import CorruptGGUF

_SCALARS = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
_WANTED = {"general.architecture", "general.file_type", "general.alignment"}


@dataclass(frozen=True)
class GGUFHeader:
    architecture: str
    quantization: str  # llama.cpp's name for the file type, like "Q4_1"
    tensors: int
    size_needed: int  # bytes up to the end of the last tensor's data


def read_gguf_header(path: Path) -> GGUFHeader:
    """The header of a GGUF file, or `CorruptGGUF` when it is not one or is cut short."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            header = _read_header(_Cursor(data))
    except (struct.error, ValueError, KeyError, UnicodeDecodeError) as exc:
        # mmap of an empty file is a ValueError too
        raise CorruptGGUF(
            f"{path} is not a readable GGUF file ({exc}): it is corrupt or not GGUF; "
            "download it again, or reinstall the package that ships it"
        ) from exc
    size = path.stat().st_size
    if header.size_needed > size:
        raise CorruptGGUF(
            f"{path} is truncated: its tensors need {header.size_needed:,} bytes and the file "
            f"has {size:,}; download it again, or reinstall the package that ships it"
        )
    return header


class _Cursor:
    """Reads little-endian values from the file's bytes, one after the other."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> bytes:
        self.skip(count)
        return self.data[self.at - count : self.at]

    def skip(self, count: int) -> None:
        if count > len(self.data) - self.at:  # a garbage length fails here, not in memory
            raise ValueError(f"the header ends early (wanted {count:,} bytes at {self.at:,})")
        self.at += count

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("<Q")).decode()

    def value(self, kind: GGUFValueType) -> Any:
        if kind == GGUFValueType.STRING:
            return self.string()
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        raise ValueError(f"an array where a single value belongs ({kind.name})")

    def skip_value(self, kind: GGUFValueType) -> None:
        if kind == GGUFValueType.STRING:
            self.skip(self.unpack("<Q"))
        elif kind == GGUFValueType.ARRAY:
            item = GGUFValueType(self.unpack("<I"))
            count = self.unpack("<Q")
            if item in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[item]))
            else:
                for _ in range(count):
                    self.skip_value(item)
        else:
            self.skip(struct.calcsize(_SCALARS[kind]))


def _read_header(cursor: _Cursor) -> GGUFHeader:
    if cursor.unpack("<I") != GGUF_MAGIC:
        raise ValueError("no GGUF magic number at the start")
    version = cursor.unpack("<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} (known: 2 and 3)")
    tensor_count, kv_count = cursor.unpack("<Q"), cursor.unpack("<Q")
    values: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string()
        kind = GGUFValueType(cursor.unpack("<I"))
        if key in _WANTED:
            values[key] = cursor.value(kind)
        else:
            cursor.skip_value(kind)
    types, data_end = [], 0
    for _ in range(tensor_count):
        cursor.skip(cursor.unpack("<Q"))  # the tensor's name
        dims = [cursor.unpack("<Q") for _ in range(cursor.unpack("<I"))]
        kind = GGMLQuantizationType(cursor.unpack("<I"))
        offset = cursor.unpack("<Q")
        block, block_bytes = GGML_QUANT_SIZES[kind]
        data_end = max(data_end, offset + prod(dims) // block * block_bytes)
        types.append(kind.name)
    alignment = values.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    data_start = -(-cursor.at // alignment) * alignment
    return GGUFHeader(
        architecture=values["general.architecture"],
        quantization=_quantization(values.get("general.file_type"), types),
        tensors=tensor_count,
        size_needed=data_start + data_end,
    )


def _quantization(file_type: int | None, tensor_types: list[str]) -> str:
    """The file type the header names, else the type most tensors have."""
    if file_type is not None and file_type in LlamaFileType._value2member_map_:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    counts = Counter(tensor_types)
    return counts.most_common(1)[0][0] if counts else "unknown"
