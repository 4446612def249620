"""Full-text search of prompts, the same on either database: every term must appear in the
prompt as a case-insensitive substring, in any script (Chinese prompts have no spaces between
words, so word-based search would miss most of them).

- SQLite: an FTS5 table with the trigram tokenizer over `studio_generation.prompt`, kept in step
  by triggers. Terms shorter than three characters (which trigrams cannot index) fall back to
  `LIKE`, applied after the FTS terms have narrowed the rows. So do common ASCII terms (see
  `common_terms`): the first page of a gallery search then reads the owner's newest rows in
  order until it has a page, instead of every match in the whole studio.
- PostgreSQL: a pg_trgm GIN index on `UPPER(prompt)`, which is exactly what Django's
  `icontains` compares, so every term is an indexed `icontains`.

Every term must match (AND). See docs/decisions.md.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

log = logging.getLogger(__name__)
FTS_TABLE = "studio_prompt_fts"
MAX_TERMS = 8
# A term with at least this many matches in the whole studio is searched with LIKE over the
# owner's rows, newest first: listing 180,000 FTS matches of "lighthouse" among 1,000,000 prompts
# took 545 ms, LIKE found a page of them in 0.2 ms (benchmarks/README.md, million). Counting up
# to this many matches costs about 2 ms.
COMMON = 2000

SQLITE_INSTALL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "prompt, content='studio_generation', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON studio_generation BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, prompt) VALUES (new.id, new.prompt); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON studio_generation BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, prompt) VALUES ('delete', old.id, old.prompt);"
    " END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF prompt "
    f"ON studio_generation BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, prompt) VALUES ('delete', old.id, old.prompt);"
    f" INSERT INTO {FTS_TABLE}(rowid, prompt) VALUES (new.id, new.prompt); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_delete",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
POSTGRES_INSTALL = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS studio_generation_prompt_trgm ON studio_generation "
    "USING gin (UPPER(prompt) gin_trgm_ops)",
]
POSTGRES_UNINSTALL = ["DROP INDEX IF EXISTS studio_generation_prompt_trgm"]


def install(apps, schema_editor) -> None:
    """Migration step. On SQLite, a later migration that rebuilds studio_generation drops the
    triggers with the old table: it must run this again (a test checks they exist)."""
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        for sql in SQLITE_INSTALL:
            schema_editor.execute(sql)
    elif connection.vendor == "postgresql":
        try:
            with transaction.atomic(using=connection.alias):
                for sql in POSTGRES_INSTALL:
                    schema_editor.execute(sql)
        except DatabaseError as exc:
            # Search still works without the index, only slower on large galleries.
            log.warning("No trigram index for prompt search (%s); ask the DBA for pg_trgm.", exc)


def uninstall(apps, schema_editor) -> None:
    statements = {"sqlite": SQLITE_UNINSTALL, "postgresql": POSTGRES_UNINSTALL}
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def terms(query: str) -> list[str]:
    words = [w.strip("\"'") for w in query.split()]
    return [w for w in words if w][:MAX_TERMS]


def common_terms(fts_terms: list[str]) -> set[str]:
    """The FTS terms (quoted) with at least COMMON matches in the whole studio: one query,
    each count stopping at COMMON."""
    matches = f"SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s LIMIT {COMMON}"
    count = f"(SELECT COUNT(*) FROM ({matches}))"
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join([count] * len(fts_terms)), fts_terms)
        counts = cursor.fetchone()
    return {term for term, n in zip(fts_terms, counts, strict=True) if n >= COMMON}


def search_prompts(queryset: QuerySet, query: str, field: str = "prompt") -> QuerySet:
    """Narrows `queryset` to rows whose prompt (at `field`, e.g. "generation__prompt") holds
    every term of `query`."""
    prefix = field.rpartition("__")[0]
    id_field = f"{prefix}_id" if prefix else "id"
    fts_terms = {}
    for term in terms(query):
        if connection.vendor == "sqlite" and len(term) >= 3:
            fts_terms['"' + term.replace('"', '""') + '"'] = term
        else:
            queryset = queryset.filter(**{f"{field}__icontains": term})
    if fts_terms:
        # Only ASCII terms: SQLite's LIKE folds the case of ASCII letters alone, the trigram
        # index that of every letter.
        for quoted in common_terms(list(fts_terms)):
            if fts_terms[quoted].isascii():
                queryset = queryset.filter(**{f"{field}__icontains": fts_terms.pop(quoted)})
    if fts_terms:
        sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
        match = RawSQL(sql, [" AND ".join(fts_terms)])
        queryset = queryset.filter(**{f"{id_field}__in": match})
    return queryset
