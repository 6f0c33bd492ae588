"""The curation stages of :mod:`slmlab.curation` as steps of a datatrove pipeline.

The same batch functions that ``Dataset.map`` calls run here on datatrove ``Document`` streams, so
the pipeline scales out with datatrove's executors (``LocalPipelineExecutor`` here; its Slurm or Ray
executors on a cluster) without changing the stage code. Deduplication is split the way datatrove
splits its own MinHash dedup:

1. per shard, in parallel: normalise -> heuristics -> fingerprints (SHA-1, MinHash), written as JSONL;
2. one task over all fingerprints, in document order: exact then near duplicates -> a list of ids;
3. per shard, in parallel: drop those ids -> quality -> verifier -> decontamination -> JSONL.

Worker processes start with datatrove's default ``forkserver`` method, which re-imports the main
module: a script that calls :func:`run_datatrove_curation` needs an ``if __name__ == "__main__":``
guard (notebooks and pytest need nothing). Nothing here downloads anything: unlike some of datatrove's own filters (which fetch tokenizer or
language-id data at run time) our steps only use the text and what they were built with.
"""
from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset
from datatrove.executor import LocalPipelineExecutor
from loguru import logger
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from .curation import (CurationConfig, QualityScorer, check_dataset, content_hash_batch,
                       decontamination_batch, eval_ngram_index, exact_duplicate_reasons,
                       heuristic_batch, minhash_batch, minhash_near_duplicates, normalise_batch,
                       quality_batch, verifier_batch)
from .report import atomic_write_text

__all__ = ["BatchStage", "GlobalDedup", "DropIds", "write_jsonl_shards", "run_datatrove_curation"]


def _batches(data, size: int):
    batch = []
    for doc in data:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class BatchStage(PipelineStep):
    """Wraps one batch function (``fn(batch, **kwargs) -> dict of columns``). A returned ``text``
    column replaces the text, ``reason_column`` (if given) drops documents with a non-empty reason,
    and the other columns are stored in the document's metadata."""

    type = "🧹 - CURATION"

    def __init__(self, fn, reason_column: str | None = None, batch_size: int = 1000, **kwargs):
        self.name = fn.__name__  # before __init__: datatrove names the stats after it
        super().__init__()
        self.fn, self.reason_column, self.batch_size, self.kwargs = fn, reason_column, batch_size, kwargs

    def run(self, data, rank: int = 0, world_size: int = 1):
        for batch in _batches(data, self.batch_size):
            out = self.fn({"text": [d.text for d in batch]}, **self.kwargs)
            for i, doc in enumerate(batch):
                if "text" in out:
                    doc.text = out["text"][i]
                for key, values in out.items():
                    if key != "text":
                        doc.metadata[key] = values[i]
                self.stat_update("documents")
                if self.reason_column and out[self.reason_column][i]:
                    self.stat_update("removed")
                    continue
                yield doc


class GlobalDedup(PipelineStep):
    """One task sees every fingerprint and writes the ids of the copies to ``output_file``: exact
    duplicates first, then near duplicates among the rest, both in ``doc_id`` order."""

    type = "🫂 - DEDUP"
    name = "global dedup"

    def __init__(self, output_file: str, minhash_params):
        super().__init__()
        self.output_file, self.params = output_file, minhash_params

    def run(self, data, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError(f"GlobalDedup must run as 1 task, got world_size={world_size}")
        docs = sorted(data, key=lambda d: d.metadata["doc_id"])
        ids = [d.metadata["doc_id"] for d in docs]
        exact = exact_duplicate_reasons([d.metadata["content_hash"] for d in docs], ids)
        rest = [i for i, r in enumerate(exact) if not r]
        near = minhash_near_duplicates([docs[i].metadata["minhash"] for i in rest], self.params,
                                       [ids[i] for i in rest])
        removed = {str(ids[i]): r for i, r in enumerate(exact) if r}
        removed.update({str(ids[i]): r for i, r in zip(rest, near) if r})
        atomic_write_text(self.output_file, json.dumps(removed))
        self.stat_update("removed", value=len(removed))
        return iter(())


class DropIds(PipelineStep):
    """Drops the documents listed (by ``doc_id``) in a JSON file written by :class:`GlobalDedup`,
    and the fingerprints nobody needs any more."""

    type = "🫂 - DEDUP"
    name = "drop duplicates"

    def __init__(self, ids_file: str):
        super().__init__()
        self.ids_file = ids_file

    def run(self, data, rank: int = 0, world_size: int = 1):
        removed = json.loads(Path(self.ids_file).read_text())
        for doc in data:
            if str(doc.metadata["doc_id"]) in removed:
                self.stat_update("removed")
                continue
            doc.metadata.pop("minhash", None)
            yield doc


def write_jsonl_shards(dataset: Dataset, folder, n_shards: int = 2, text_column: str = "text") -> list[Path]:
    """Write ``dataset`` as ``n_shards`` JSONL files (contiguous slices; ``doc_id`` kept)."""
    check_dataset(dataset, text_column)
    if not isinstance(n_shards, int) or n_shards < 1:
        raise ValueError(f"n_shards={n_shards!r} must be a positive int")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = dataset.to_list()
    if "doc_id" not in dataset.column_names:
        rows = [dict(r, doc_id=i) for i, r in enumerate(rows)]
    paths = []
    for k in range(n_shards):
        part = rows[k * len(rows) // n_shards:(k + 1) * len(rows) // n_shards]
        lines = "".join(json.dumps({"id": str(r["doc_id"]), "text": r[text_column], "doc_id": r["doc_id"]}) + "\n"
                        for r in part)
        path = folder / f"shard_{k:05d}.jsonl"
        atomic_write_text(path, lines)
        paths.append(path)
    return paths


class _QuietExecutor(LocalPipelineExecutor):
    """datatrove's local executor with its console logs kept in its log files: unsilenced, one curation
    prints about 130 lines (pipeline banners, per-task stats, ANSI colour codes) into a notebook that
    prints the one line that matters itself. Errors still reach the console, and raise as before."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        # datatrove: "Any task with local_rank != 0 will not print logs to console" (only errors); the
        # log file under logging_dir keeps everything. local_rank is used for nothing else.
        return super()._run_for_rank(rank, local_rank + 1, node_rank)

    def _launch_run_for_rank(self, rank: int, ranks_q, completed=None, completed_lock=None):
        # the shared counter only feeds an "n/N tasks completed" console line
        return super()._launch_run_for_rank(rank, ranks_q)


def run_datatrove_curation(dataset: Dataset, work_dir, scorer: QualityScorer, eval_texts,
                           config: CurationConfig = CurationConfig(), tasks: int = 2,
                           text_column: str = "text") -> list:
    """Curate ``dataset`` with datatrove's ``LocalPipelineExecutor`` (``tasks`` parallel tasks over
    as many JSONL shards) and return the kept ``doc_id`` values, sorted. Files go under ``work_dir``."""
    if not isinstance(scorer, QualityScorer):
        raise ValueError("scorer must be a fitted QualityScorer (see slmlab.curation.fit_quality_scorer)")
    if tuple(config.stages) != ("normalise", "heuristics", "exact_dedup", "near_dedup", "quality",
                                "verifier", "decontamination"):
        raise ValueError("run_datatrove_curation runs the full pipeline; use config.stages = STAGES")
    work = Path(work_dir)
    write_jsonl_shards(dataset, work / "input", tasks, text_column)
    index = eval_ngram_index(eval_texts, config.decont_n)
    bs = config.batch_size
    ids_file = str(work / "dedup" / "removed_ids.json")
    first = _QuietExecutor(pipeline=[
        JsonlReader(str(work / "input")),
        BatchStage(normalise_batch, batch_size=bs),
        BatchStage(heuristic_batch, "heuristics_reason", bs, rules=config.rules),
        BatchStage(content_hash_batch, batch_size=bs),
        BatchStage(minhash_batch, batch_size=bs, params=config.minhash),
        JsonlWriter(str(work / "fingerprints"), compression=None),
    ], tasks=tasks, logging_dir=str(work / "logs" / "1_fingerprints"), skip_completed=False)
    dedup = _QuietExecutor(pipeline=[
        JsonlReader(str(work / "fingerprints")),
        GlobalDedup(ids_file, config.minhash),
    ], tasks=1, logging_dir=str(work / "logs" / "2_dedup"), depends=first, skip_completed=False)
    last = _QuietExecutor(pipeline=[
        JsonlReader(str(work / "fingerprints")),
        DropIds(ids_file),
        BatchStage(quality_batch, "quality_reason", bs, scorer=scorer, threshold=config.quality_threshold),
        BatchStage(verifier_batch, "verifier_reason", bs),
        BatchStage(decontamination_batch, "decontamination_reason", bs, index=index, n=config.decont_n,
                   min_numbers=config.decont_min_numbers),
        JsonlWriter(str(work / "kept"), compression=None),
    ], tasks=tasks, logging_dir=str(work / "logs" / "3_filter"), depends=dedup, skip_completed=False)
    logger.disable("datatrove")  # this process's own datatrove lines (launches, merged stats): in the files
    try:
        last.run()
    finally:
        logger.enable("datatrove")
    kept = []
    for path in sorted((work / "kept").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                kept.append(json.loads(line)["metadata"]["doc_id"])
    return sorted(kept)
