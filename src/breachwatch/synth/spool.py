"""Shuffling tens of millions of rows in bounded memory: a two-pass bucket shuffle.

Each chunk's rows go to random buckets, stored as one Arrow IPC file per chunk holding one record
batch per bucket; a bucket is then read back from every chunk file and permuted in memory. A
uniform bucket choice followed by a uniform permutation within each bucket is a uniform shuffle of
the whole, with at most one bucket (~BUCKET_ROWS rows) in memory at a time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

# lz4 keeps the temporary files ~3× smaller than the text for a few percent of the time.
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


class Spool:
    def __init__(self, directory: Path, buckets: int) -> None:
        self.directory = directory
        self.buckets = buckets
        self.rows = 0
        self._files: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table, bucket: np.ndarray) -> None:
        """Append one chunk's rows, ``bucket[i]`` being row i's bucket."""
        order = np.argsort(bucket, kind="stable")
        counts = np.bincount(bucket, minlength=self.buckets)
        table = table.take(pa.array(order)).combine_chunks()
        path = self.directory / f"{len(self._files):05d}.arrow"
        with pa.ipc.new_file(path, table.schema, options=_IPC) as writer:
            start = 0
            for count in counts:
                columns = [
                    column.chunk(0).slice(start, count)
                    if column.num_chunks
                    else pa.array([], column.type)
                    for column in table.columns
                ]
                writer.write_batch(pa.record_batch(columns, schema=table.schema))
                start += count
        self._files.append(path)
        self.rows += len(bucket)

    def read(self, bucket: int) -> pa.Table:
        batches = []
        for path in self._files:
            with pa.ipc.open_file(pa.memory_map(str(path))) as reader:
                batches.append(reader.get_batch(bucket))
        return pa.Table.from_batches(batches).combine_chunks()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
