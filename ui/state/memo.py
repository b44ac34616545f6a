"""Results kept in the server's memory, shared by every session, for work that draws its own progress bar.

st.cache_data cannot hold these: a cached function may not draw into a progress bar made outside it (Streamlit
replays a cached function's elements, and one drawn into an outside container cannot be replayed). So the work
runs outside any cached function, and its result is kept here by the key the caller gives (e.g. the name of its
disk cache file, which holds the checkpoint's content and every setting).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

import streamlit as st

T = TypeVar("T")


class ServerMemo(Generic[T]):
    """Up to max_entries results by key; the least recently used leaves first. Thread-safe."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._kept: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            if key not in self._kept:
                return None
            self._kept.move_to_end(key)
            return self._kept[key]

    def put(self, key: Hashable, value: T) -> T:
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self.max_entries:
                self._kept.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def server_memo(name: str, max_entries: int) -> ServerMemo:
    """The server's memo called name (one per name; cleared with st.cache_resource.clear())."""
    return ServerMemo(max_entries)
