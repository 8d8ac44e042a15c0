"""Type aliases for the byte buffers the parsers read and the rewriters write."""

from typing import TypeAlias

__all__ = ["BytesLike", "WritableBuffer"]

# Spelled out because mypy 2 no longer treats bytearray/memoryview as compatible with bytes, and
# the hot path parses receive buffers (bytearray) and slices of them (memoryview) without copying.
BytesLike: TypeAlias = bytes | bytearray | memoryview
WritableBuffer: TypeAlias = bytearray | memoryview
