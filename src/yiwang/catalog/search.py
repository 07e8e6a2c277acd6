"""Chinese full-text search over the published catalog, the same on SQLite and PostgreSQL.

Text is indexed in order as tokens: each pair of adjacent Chinese characters (a lone character
stands for itself) and each Latin word or number, plus the set of single characters. A query
term becomes a *phrase* of its tokens, which matches only where the characters really stand
together — an FTS5 phrase query on SQLite, a tsvector phrase query (``<->``) over a GIN index
on PostgreSQL — and a one-character term looks up the character set. Everyday words are widened
through ``Synonym`` (开饭店 → 食品经营许可).

Order: exact name, then name prefix, then name, then aliases, then anything else; within each,
popularity. A page never reads every match (see :class:`SearchResults`): matches are counted
exactly up to :data:`COUNT_CAP` and beyond that reported as a lower bound; the name tiers come
from a small name-and-alias index, and the rest of a page is taken in popularity order with an
early stop — from all matches when they are few, by walking the popularity index and testing
membership when they are many.

Result pages, counts and facets are cached under the catalog's revision number, which every
publish or retirement advances, so a cached answer is never older than the catalog.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from yiwang.catalog import codes
from yiwang.catalog.models import SearchEntry, Synonym
from yiwang.core.memo import Memo

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
MAX_TERMS = 5
MAX_QUERY_CHARS = 60


def token_sequence(text: str) -> list[str]:
    """Ordered tokens: the bigrams of each Chinese run (a lone character itself), Latin words."""
    seq: list[str] = []
    for run in _TOKEN_RE.findall((text or "").lower()):
        if run[0].isascii() or len(run) == 1:
            seq.append(run)
        else:
            seq.extend(run[i:i + 2] for i in range(len(run) - 1))
    return seq


def char_set(text: str) -> list[str]:
    """The distinct Chinese characters of a text (for one-character queries)."""
    return sorted({c for run in _TOKEN_RE.findall((text or "").lower()) if not run[0].isascii() for c in run})


def index_texts(document: str) -> tuple[str, str]:
    """What the index stores for a document: the token sequence and the character set."""
    return " ".join(token_sequence(document)), " ".join(char_set(document))


def _is_single_char(term: str) -> bool:
    runs = _TOKEN_RE.findall(term.lower())
    return len(runs) == 1 and len(runs[0]) == 1 and not runs[0].isascii()


def split_terms(q: str) -> list[str]:
    q = (q or "").strip()[:MAX_QUERY_CHARS].lower()
    terms = [t for t in re.split(r"[\s,，、;；]+", q) if t and _TOKEN_RE.search(t)]
    return terms[:MAX_TERMS]


# ----------------------------------------------------------------------------- synonyms
SYNONYMS = Memo("catalog.synonyms", ttl=30, watch=("catalog.Synonym",))


def synonyms() -> dict[str, list[str]]:
    """Word → the official wordings it stands for; kept 30 s per process (at once here after a save)."""
    return SYNONYMS.get("all", lambda: {s.word.lower(): [t.lower() for t in s.terms()] for s in Synonym.objects.all()})


def forget_synonyms() -> None:
    """After a bulk load of synonyms (no save signals): read them again on next use."""
    SYNONYMS.clear()


def expand(term: str) -> list[str]:
    """The term and the official wordings it stands for."""
    return [term, *[t for t in synonyms().get(term, []) if t != term]]


# ----------------------------------------------------------------------------- index access
def _fts_phrase(term: str) -> str | None:
    """An FTS5 expression for one term (SQLite)."""
    if _is_single_char(term):
        return f'chars : "{term}"'
    tokens = token_sequence(term)
    if not tokens:
        return None
    return 'seq : "' + " ".join(t.replace('"', '""') for t in tokens) + '"'


def _ts_phrase(term: str, joiner: str = " <-> ") -> str | None:
    """A tsquery expression for one term (PostgreSQL); with ``joiner`` " & " the token set only."""
    tokens = [term] if _is_single_char(term) else token_sequence(term)
    if not tokens:
        return None
    return "(" + joiner.join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in tokens) + ")"


def _match_expression(terms: list[str], *, token_sets: bool = False) -> tuple[str, list] | None:
    """SQL selecting the ids of items matching every term (each term or one of its synonyms).

    ``token_sets`` (PostgreSQL): items holding every token of a term anywhere, a superset of the
    phrase matches that the GIN index answers without reading a single vector."""
    clauses = []
    for term in terms:
        if connection.vendor == "sqlite":
            alternatives = [p for p in (_fts_phrase(v) for v in expand(term)) if p]
        else:
            alternatives = [p for p in (_ts_phrase(v, " & " if token_sets else " <-> ") for v in expand(term)) if p]
        if alternatives:
            clauses.append("(" + (" OR " if connection.vendor == "sqlite" else " | ").join(alternatives) + ")")
    if not clauses:
        return None
    if connection.vendor == "sqlite":
        return ("SELECT rowid FROM catalog_search_fts WHERE catalog_search_fts MATCH %s", [" AND ".join(clauses)])
    return ("SELECT item_id FROM catalog_search_tsv WHERE tsv @@ %s::tsquery", [" & ".join(clauses)])


def _rank(terms: list[str]):
    """Exact name, then name prefix, then name, then alias; each over the terms and their synonyms."""
    variants = [v for t in terms for v in expand(t)]
    whole = "".join(terms)
    exact = {whole, *(expand(terms[0]) if len(terms) == 1 else [])}
    whens = [When(name=e, then=Value(1000)) for e in sorted(exact)]
    whens += [When(name__startswith=v, then=Value(600)) for v in variants]
    whens += [When(name__contains=v, then=Value(400)) for v in variants]
    whens += [When(aliases__contains=v, then=Value(300)) for v in variants]
    return Case(*whens, default=Value(100), output_field=IntegerField())


@dataclasses.dataclass
class Filters:
    region: str = ""
    organization: int | None = None
    item_type: str = ""
    theme: str = ""
    object: str = ""  # "person" | "legal"
    depth: int | None = None


def apply_filters(qs: QuerySet, f: Filters) -> QuerySet:
    if f.region:
        from yiwang.core.validators import division_prefix

        qs = qs.filter(region_code__startswith=division_prefix(f.region))
    if f.organization:
        qs = qs.filter(organization_id=f.organization)
    if f.item_type:
        qs = qs.filter(item_type=f.item_type)
    if f.theme:
        qs = qs.filter(themes__code=f.theme)
    if f.object == "person":
        qs = qs.filter(for_person=True)
    elif f.object == "legal":
        qs = qs.filter(for_legal=True)
    if f.depth:
        qs = qs.filter(online_level=f.depth)
    return qs


def search(q: str = "", filters: Filters | None = None) -> QuerySet:
    """Published items matching ``q`` and the filters, best first, as one queryset.

    This ranks every match in SQL: the reference order, and what facets count over. Pages are
    served by :class:`SearchResults`, which gives the same order without reading every match."""
    qs = SearchEntry.objects.all()
    terms = split_terms(q)
    match = _match_expression(terms) if terms else None
    if match is not None:
        qs = qs.filter(item_id__in=RawSQL(*match))
    qs = apply_filters(qs, filters or Filters())
    if terms:
        qs = qs.annotate(rank=_rank(terms)).order_by("-rank", "-popularity", "name", "item_id")
    else:
        qs = qs.order_by("-popularity", "name", "item_id")
    return qs


# ----------------------------------------------------------------------------- bounded pages
COUNT_CAP = 1000  # counts are exact up to here; beyond, "1,000+"
NAME_CAP = 500  # name/alias matches ranked in full up to here; beyond, walked in popularity order
PROBE_DENSITY = 0.2  # at least this share of the walked rows match: test membership row by row


def _vendor() -> str:
    return "sqlite" if connection.vendor == "sqlite" else "postgresql"


def _exact_names(terms: list[str]) -> set[str]:
    return {"".join(terms), *(expand(terms[0]) if len(terms) == 1 else [])}


def _variants(terms: list[str]) -> list[str]:
    return list(dict.fromkeys(v for t in terms for v in expand(t)))


def rank_of(name: str, aliases: str, exact: set[str], variants: list[str]) -> int:
    """The rank :func:`_rank` gives in SQL, computed from a row's name and aliases."""
    if name in exact:
        return 1000
    if any(name.startswith(v) for v in variants):
        return 600
    if any(v in name for v in variants):
        return 400
    if any(v in aliases for v in variants):
        return 300
    return 100


def _names_expression(variants: list[str], column: str) -> tuple[str, list] | None:
    """SQL selecting the ids whose ``column`` ("name" or "alias") holds one of the variants, from
    the name index."""
    if _vendor() == "sqlite":
        alternatives = []
        for v in variants:
            phrase = _fts_phrase(v)
            if phrase:
                kind, _, text = phrase.partition(" : ")
                alternatives.append(f"{column}_{kind} : {text}")
        if not alternatives:
            return None
        return ("SELECT rowid FROM catalog_search_names WHERE catalog_search_names MATCH %s",
                [" OR ".join(alternatives)])
    alternatives = [p for p in (_ts_phrase(v) for v in variants) if p]
    if not alternatives:
        return None
    return (f"SELECT item_id FROM catalog_search_names WHERE {column}_tsv @@ %s::tsquery", [" | ".join(alternatives)])


def _filter_sql(f: Filters, *, count: bool = False) -> tuple[list[str], list]:
    """WHERE conditions on ``e`` (catalog_searchentry) for the filters; ``count``: for a count
    without search terms, where the theme's own rows should drive."""
    where: list[str] = []
    params: list = []
    if f.region:
        from yiwang.core.validators import division_prefix

        prefix = division_prefix(f.region)
        where.append("e.region_code >= %s AND e.region_code < %s")
        params += [prefix, prefix + ":"]  # ':' follows the digits
    if f.organization:
        where.append("e.organization_id = %s")
        params.append(f.organization)
    if f.item_type:
        where.append("e.item_type = %s")
        params.append(f.item_type)
    if f.theme:
        through = SearchEntry.themes.through._meta.db_table
        theme = "(SELECT th.id FROM catalog_theme th WHERE th.code = %s)"
        if count:  # the theme's rows drive the count
            where.append(f"e.item_id IN (SELECT et.searchentry_id FROM {through} et WHERE et.theme_id = {theme})")
        elif connection.vendor == "sqlite":  # tested row by row on the (entry, theme) key while another index drives
            where.append(f"EXISTS (SELECT 1 FROM {through} et WHERE et.searchentry_id = e.item_id "
                         f"AND et.theme_id = {theme})")
        else:  # the same; a scalar subquery, which PostgreSQL does not turn into a join over the whole theme
            where.append(f"(SELECT true FROM {through} et WHERE et.searchentry_id = e.item_id "
                         f"AND et.theme_id = {theme})")
        params.append(f.theme)
    if f.object == "person":
        where.append("e.for_person")
    elif f.object == "legal":
        where.append("e.for_legal")
    if f.depth:
        where.append("e.online_level = %s")
        params.append(f.depth)
    return where, params


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


_ORDER = "e.popularity DESC, e.name, e.item_id"
_ROW = "e.item_id, e.name, e.aliases, e.popularity"


class _Plan:
    """How one query and its filters are answered without touching every match."""

    def __init__(self, q: str, filters: Filters):
        self.terms = split_terms(q)
        self.filters = filters
        self.where, self.params = _filter_sql(filters)
        self.count_where, _ = _filter_sql(filters, count=True)
        self.match = _match_expression(self.terms) if self.terms else None
        self.names = None
        if self.match is not None:
            self.exact = _exact_names(self.terms)
            self.variants = _variants(self.terms)
            self.names = _names_expression(self.variants, "name")
            self.aliases = _names_expression(self.variants, "alias")
        self._sparse: list[int] | None = None  # all matches in order, when there are few
        self._matches: list[int] | None = None

    # -- primitives ------------------------------------------------------------------
    def _where(self, *extra: str, count: bool = False) -> str:
        """WHERE with ``extra`` conditions first, then the filters (pass parameters in that order)."""
        parts = [*extra, *(self.count_where if count else self.where)]
        return (" WHERE " + " AND ".join(parts)) if parts else ""

    def _driven(self, source: tuple[str, list], cap: int, columns: str = "e.item_id") -> list[tuple]:
        """Rows of up to ``cap`` entries in ``source`` (an id-selecting index query) that pass the
        filters, read in the index's own order so that the scan stops at the cap."""
        sql, params = source
        if _vendor() == "sqlite":
            # CROSS JOIN keeps the text index as the outer loop: it stops after `cap` rows.
            query = (f"SELECT {columns} FROM ({sql}) m CROSS JOIN catalog_searchentry e ON e.item_id = m.rowid"
                     f"{self._where()} LIMIT {int(cap)}")
        else:
            # The index scan is its own plan (a materialised CTE is read lazily); each of its rows
            # looks up its search row (OFFSET 0 keeps the lateral subquery a per-row look-up) when
            # a filter or the columns need it; a theme is a hashed set of its items.
            rest = dataclasses.replace(self.filters, theme="")
            where, where_params = _filter_sql(rest)
            outer, outer_params = [], []
            if self.filters.theme:
                through = SearchEntry.themes.through._meta.db_table
                outer.append(f"m.item_id IN (SELECT et.searchentry_id FROM {through} et WHERE et.theme_id = "
                             "(SELECT th.id FROM catalog_theme th WHERE th.code = %s))")
                outer_params.append(self.filters.theme)
            if where or columns != "e.item_id":
                query = (f"WITH m AS MATERIALIZED ({sql}) SELECT {columns} FROM m CROSS JOIN LATERAL ("
                         f"SELECT {_ROW} FROM catalog_searchentry e WHERE e.item_id = m.item_id"
                         f"{' AND ' + ' AND '.join(where) if where else ''} OFFSET 0) e")
            else:
                query = f"WITH m AS MATERIALIZED ({sql}) SELECT m.item_id FROM m"
            query += (" WHERE " + " AND ".join(outer) if outer else "") + f" LIMIT {int(cap)}"
            return _fetch(query, [*params, *where_params, *outer_params])
        return _fetch(query, [*params, *self.params])

    def _probe(self, ids: list[int]) -> set[int]:
        """Which of ``ids`` match the whole query (one index look-up per id)."""
        if not ids:
            return set()
        sql, params = self.match
        if _vendor() == "sqlite":
            marks = ", ".join(["%s"] * len(ids))
            return {r[0] for r in _fetch(f"{sql} AND rowid IN ({marks})", [*params, *ids])}
        return {r[0] for r in _fetch(f"{sql} AND item_id = ANY(%s)", [*params, list(ids)])}

    def _walk(self, member: tuple[str, list] | None, skip: set[int], need: int, probe: bool,
              accept=None, density: float = 1.0, where: list[str] | None = None,
              params: list | None = None, columns: str = _ROW) -> tuple[list[int], bool]:
        """Up to ``need`` ids in popularity order that pass the filters and are in ``member`` (tested
        in SQL), or pass :meth:`_probe` (``probe``), and ``accept(row)``; ids in ``skip`` are passed
        over. Returns the ids and whether the order was exhausted."""
        extra, params = list(where or []), list(params or [])
        if member is not None:
            extra.append(f"e.item_id IN ({member[0]})" if _vendor() == "postgresql"
                         else f"+e.item_id IN ({member[0]})")  # '+': test membership, walk the popularity index
            params += list(member[1])
        sql = (f"SELECT {columns} FROM catalog_searchentry e{self._where(*extra)} "
               f"ORDER BY {_ORDER} LIMIT %s OFFSET %s")
        found: list[int] = []
        # A first batch that should hold the page at the expected density; later ones double.
        offset, batch = 0, int(need / max(density, 0.01) * 1.2) + len(skip) + 10
        while len(found) < need:
            rows = _fetch(sql, [*params, *self.params, batch, offset])  # member first, then filters
            candidates = [r for r in rows if r[0] not in skip and (accept is None or accept(r))]
            if probe:
                hits = self._probe([r[0] for r in candidates])
                candidates = [r for r in candidates if r[0] in hits]
            found += [r[0] for r in candidates[:need - len(found)]]
            if len(rows) < batch:
                return found, True
            offset += batch
            batch *= 2
        return found, False

    # -- answers ---------------------------------------------------------------------
    def count(self) -> tuple[int, bool]:
        """(count, exact): exact up to :data:`COUNT_CAP`, a lower bound beyond."""
        if self.match is None:
            if self.terms:
                return 0, True
            return _fetch(f"SELECT count(*) FROM catalog_searchentry e{self._where(count=True)}",
                          self.params)[0][0], True
        matches = self.capped_matches()
        return min(len(matches), COUNT_CAP), len(matches) <= COUNT_CAP

    def capped_matches(self) -> list[int]:
        """Ids of up to COUNT_CAP + 1 matches, in the text index's order."""
        if self._matches is None:
            if self.where:  # the search rows decide the filters
                self._matches = [r[0] for r in self._driven(self.match, COUNT_CAP + 1)]
            else:  # the text index alone (PostgreSQL: planned as a whole, so the GIN index serves it)
                sql, params = self.match
                if _vendor() == "postgresql":
                    sql = f"WITH m AS MATERIALIZED ({sql}) SELECT item_id FROM m"
                self._matches = [r[0] for r in _fetch(f"{sql} LIMIT {COUNT_CAP + 1}", params)]
        return self._matches

    def _rows(self, ids: list[int], *, filtered: bool = False) -> list[tuple]:
        """Search rows of these ids (``filtered``: only those that pass the filters)."""
        out: list[tuple] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            condition = f"e.item_id IN ({', '.join(['%s'] * len(chunk))})"
            if filtered:
                out += _fetch(f"SELECT {_ROW} FROM catalog_searchentry e{self._where(condition)}", [*chunk, *self.params])
            else:
                out += _fetch(f"SELECT {_ROW} FROM catalog_searchentry e WHERE {condition}", chunk)
        return out

    def ids(self, start: int, stop: int) -> list[int]:
        """The ids at positions [start, stop) of the order."""
        if stop <= start:
            return []
        if self.match is None:
            if self.terms:
                return []
            rows = _fetch(f"SELECT e.item_id FROM catalog_searchentry e{self._where()} ORDER BY {_ORDER} "
                          "LIMIT %s OFFSET %s", [*self.params, stop - start, start])
            return [r[0] for r in rows]
        matches = self.capped_matches()
        if len(matches) <= COUNT_CAP:
            return self.sparse_order()[start:stop]
        return self.dense_order(stop)[start:stop]

    def sparse_order(self) -> list[int]:
        """All matches (there are at most COUNT_CAP), ranked in full."""
        if self._sparse is None:
            rows = self._rows(self.capped_matches())
            self._sparse = [r[0] for r in sorted(rows, key=self._key)]
        return self._sparse

    def _key(self, row: tuple) -> tuple:
        return (-rank_of(row[1], row[2], self.exact, self.variants), -row[3], row[1], row[0])

    def dense_order(self, stop: int) -> list[int]:
        """The first ``stop`` ids of the order when matches are many: the name tiers (exact,
        prefix, name), the alias tier, then everything else in popularity order."""
        order = self._tier(self.names, (1000, 600, 400), set(), stop)
        if len(order) < stop:
            order += self._tier(self.aliases, (300,), set(order), stop - len(order))
        if len(order) < stop:
            order += self._rest(set(order), stop - len(order))
        return order

    def _tier(self, member: tuple[str, list] | None, ranks: tuple[int, ...], skip: set[int],
              need: int) -> list[int]:
        """Up to ``need`` matches of the given ranks found through ``member`` (a name-index query),
        best first: ranked in full when they are few, else exact names and prefixes from the
        name column's b-tree, then a popularity walk."""
        if member is None:
            return []
        single = len(self.terms) == 1  # a name holding a variant of the only term matches it

        def rank(r) -> int:
            return rank_of(r[1], r[2], self.exact, self.variants)

        # Count from the name index alone; read the rows (and apply the filters) only when few.
        sql, params = member
        if _vendor() == "postgresql":
            sql = f"WITH m AS MATERIALIZED ({sql}) SELECT item_id FROM m"
        ids = [r[0] for r in _fetch(f"{sql} LIMIT {NAME_CAP + 1}", params)]
        rows = self._rows(ids, filtered=True) if len(ids) <= NAME_CAP else ids
        if len(rows) <= NAME_CAP:
            rows = [r for r in rows if r[0] not in skip and rank(r) in ranks]
            if not single:
                hits = self._probe([r[0] for r in rows])
                rows = [r for r in rows if r[0] in hits]
            return [r[0] for r in sorted(rows, key=self._key)[:need]]
        top: list[tuple] = []
        if 1000 in ranks or 600 in ranks:
            bounds = [("e.name = %s", [e]) for e in sorted(self.exact)]
            bounds += [("e.name >= %s AND e.name < %s", [v, v + "\U0010ffff"]) for v in self.variants]
            seen = set(skip)
            for condition, params in bounds:
                sql = f"SELECT {_ROW} FROM catalog_searchentry e{self._where(condition)} ORDER BY {_ORDER} LIMIT %s"
                for r in _fetch(sql, [*params, *self.params, need]):
                    if r[0] not in seen and rank(r) in ranks and rank(r) >= 600:
                        seen.add(r[0])
                        top.append(r)
            if not single:
                hits = self._probe([r[0] for r in top])
                top = [r for r in top if r[0] in hits]
            top = sorted(top, key=self._key)
        ids = [r[0] for r in top[:need]]
        walk_rank = min(ranks)
        if len(ids) < need:
            if walk_rank == 400:  # names that hold a variant: tested on the walk index's own name column
                like = " OR ".join(["e.name LIKE %s ESCAPE '!'"] * len(self.variants))
                patterns = ["%" + v.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
                            for v in self.variants]
                more, _ = self._walk(None, skip | set(ids), need - len(ids), probe=not single,
                                     accept=lambda r: rank(r) == walk_rank, where=[f"({like})"], params=patterns,
                                     columns="e.item_id, e.name, '' AS aliases, e.popularity")  # the index alone
            else:
                more, _ = self._walk(member, skip | set(ids), need - len(ids), probe=not single,
                                     accept=lambda r: rank(r) == walk_rank)
            ids += more
        return ids

    def _rest(self, skip: set[int], need: int) -> list[int]:
        """Matches of rank 100 in popularity order: membership in SQL when they are a minority of
        the walked rows, row-by-row index tests when they are dense."""
        density = self._density()
        if density >= PROBE_DENSITY:
            return self._walk(None, skip, need, probe=True, density=density)[0]
        if _vendor() == "postgresql":  # phrases are confirmed only for the rows the walk keeps
            return self._walk(_match_expression(self.terms, token_sets=True), skip, need, probe=True)[0]
        return self._walk(self.match, skip, need, probe=False)[0]

    def _density(self) -> float:
        """Share of the filtered entries that match, estimated from how far in id order the index
        had to go to find COUNT_CAP + 1 matches (the text indexes hand out matches in id order)."""
        matches = self.capped_matches()
        if len(matches) <= COUNT_CAP:
            return 0.0
        scanned = _fetch(f"SELECT count(*) FROM catalog_searchentry e{self._where('e.item_id <= %s')}",
                         [max(matches), *self.params])[0][0]
        return len(matches) / max(scanned, 1)


_FACET_FILTER = {"type": "item_type", "depth": "depth", "object": "object", "organization": "organization",
                 "theme": "theme", "region": "region"}
_EMPTY = {"item_type": "", "depth": None, "object": "", "organization": None, "theme": "", "region": ""}


class _FacetCountsSQL(dict):
    """Per-facet value counts over a queryset of search rows, each grouped in SQL when first asked."""

    _FIELDS = {"type": "item_type", "depth": "online_level", "organization": "organization",
               "theme": "themes__code", "region": "region_code"}

    def __init__(self, qs: QuerySet):
        super().__init__()
        self.qs = qs

    def __missing__(self, facet: str) -> dict:
        if facet == "object":
            value = {"person": self.qs.filter(for_person=True).count(), "legal": self.qs.filter(for_legal=True).count()}
        else:
            field = self._FIELDS[facet]
            value = {r[field]: r["n"] for r in self.qs.values(field).annotate(n=Count("item_id")).order_by()}
        self[facet] = value
        return value


def _facet_counts_sql(qs: QuerySet) -> dict[str, dict]:
    return _FacetCountsSQL(qs)


def _facet_counts_rows(ids: list[int]) -> dict[str, dict]:
    """The same counts over a bounded list of ids (read once, counted here)."""
    from collections import Counter

    counts: dict[str, Counter] = {k: Counter() for k in ("type", "depth", "object", "organization", "theme", "region")}
    if not ids:
        return counts
    marks = ", ".join(["%s"] * len(ids))
    for _, item_type, level, person, legal, org, region in _fetch(
            "SELECT item_id, item_type, online_level, for_person, for_legal, organization_id, region_code "
            f"FROM catalog_searchentry WHERE item_id IN ({marks})", ids):
        counts["type"][item_type] += 1
        counts["depth"][level] += 1
        counts["object"]["person"] += bool(person)
        counts["object"]["legal"] += bool(legal)
        counts["organization"][org] += 1
        counts["region"][region] += 1
    through = SearchEntry.themes.through._meta.db_table
    for (code,) in _fetch(f"SELECT th.code FROM {through} et JOIN catalog_theme th ON th.id = et.theme_id "
                          f"WHERE et.searchentry_id IN ({marks})", ids):
        counts["theme"][code] += 1
    return counts


def facets(q: str = "", filters: Filters | None = None) -> dict[str, list[dict]]:
    """Counts per facet value over the matching set (ignoring that facet's own filter). With search
    terms, over the first COUNT_CAP matches in index order (exact when no more match), read once
    per distinct filter set and counted in Python; without, grouped in SQL over the catalog."""
    from yiwang.catalog.models import Theme
    from yiwang.core.models import Organization, Region

    base = filters or Filters()
    terms = split_terms(q)
    by_filters: dict[tuple, dict[str, dict]] = {}

    def counts(facet: str) -> dict:
        f = dataclasses.replace(base, **{_FACET_FILTER[facet]: _EMPTY[_FACET_FILTER[facet]]})
        key = dataclasses.astuple(f)
        if key not in by_filters:
            if terms:
                by_filters[key] = _facet_counts_rows(_Plan(q, f).capped_matches()[:COUNT_CAP])
            else:
                by_filters[key] = _facet_counts_sql(search(q, f).order_by())
        return by_filters[key][facet]

    def top(c: dict, n: int = 30) -> list[tuple]:
        return sorted(((k, v) for k, v in c.items() if k and v), key=lambda kv: (-kv[1], str(kv[0])))[:n]

    out: dict[str, list[dict]] = {}
    out["type"] = [{"value": k, "label": codes.ItemType(k).label, "count": v}
                   for k, v in sorted(counts("type").items()) if k in codes.ItemType.values and v]
    out["depth"] = [{"value": k, "label": codes.OnlineLevel(k).label, "count": v}
                    for k, v in sorted(counts("depth").items()) if v]
    obj = counts("object")
    out["object"] = [{"value": "person", "label": "自然人", "count": obj.get("person", 0)},
                     {"value": "legal", "label": "法人", "count": obj.get("legal", 0)}]
    orgs = top(counts("organization"))
    names = dict(Organization.objects.filter(id__in=[k for k, _ in orgs]).values_list("id", "name"))
    out["organization"] = [{"value": k, "label": names.get(k, ""), "count": v} for k, v in orgs]
    theme_names = dict(Theme.objects.values_list("code", "name"))
    out["theme"] = [{"value": k, "label": theme_names.get(k, ""), "count": v} for k, v in top(counts("theme"))]
    # Regions: counties (and the city itself) with matching items.
    by_county: dict[str, int] = {}
    for code, n in counts("region").items():
        if not n:
            continue
        key = code[:6].ljust(12, "0") if code[4:6] != "00" else code[:4].ljust(12, "0")
        by_county[key] = by_county.get(key, 0) + n
    region_names = dict(Region.objects.filter(code__in=by_county).values_list("code", "name"))
    out["region"] = [{"value": k, "label": region_names.get(k, k), "count": v}
                     for k, v in sorted(by_county.items())]
    return out


# ----------------------------------------------------------------------------- maintenance
def compose_document(name: str, aliases: str, theme_names: Iterable[str], material_names: Iterable[str],
                     conditions: str, result_name: str, organization_name: str) -> str:
    """The searchable text of a published version (also used by bulk loaders)."""
    return " | ".join([
        name, aliases.replace("|", " "), " ".join(theme_names), " ".join(material_names),
        conditions, result_name, organization_name,
    ]).lower()


def index_version(version) -> SearchEntry:
    """Make the search row of ``version.item`` reflect that (published) version."""
    item = version.item
    themes = list(version.themes.all())
    document = compose_document(version.name, version.aliases, [t.name for t in themes],
                                [m.name for m in version.materials.all()], version.conditions,
                                version.result_name, item.organization.name)
    objects = set(version.service_objects)
    entry, _ = SearchEntry.objects.update_or_create(
        item=item,
        defaults=dict(
            version=version, name=version.name.lower(), aliases=version.aliases.lower(),
            organization_id=item.organization_id, region_code=item.region.code, item_type=version.item_type,
            for_person=bool(objects & codes.PERSON_OBJECTS), for_legal=bool(objects & codes.LEGAL_OBJECTS),
            online_level=version.online_level, popularity=item.popularity,
        ),
    )
    entry.themes.set(themes)
    write_index([(item.pk, *index_texts(document))])
    bump_revision()
    return entry


def remove_item(item) -> None:
    _delete_index([item.pk])
    SearchEntry.objects.filter(item=item).delete()
    bump_revision()


# A document vector is always stored out of line (TOAST), so the rows the GIN index points at stay
# about 50 bytes and a bitmap scan of thousands of matches reads a few pages; only a phrase
# recheck reads a vector. Vectors shorter than the out-of-line threshold get one filler lexeme
# ('~~~…', which no query token can equal) to pass it.
TSV_PADDED_BYTES = 2100


def padded_tsvector_sql(value: str) -> str:
    """SQL for the stored form of the tsvector expression ``value`` (see TSV_PADDED_BYTES)."""
    n = TSV_PADDED_BYTES
    return (f"(SELECT CASE WHEN pg_column_size(v) < {n} THEN v || repeat('~', {n} - pg_column_size(v))::tsvector "
            f"ELSE v END FROM (SELECT {value} AS v) x)")


TSV_VALUE = padded_tsvector_sql("%s::tsvector")


def _tsvector_literal(seq: str, chars: str) -> str:
    """A tsvector in its input syntax: sequence tokens with positions, characters without."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(seq.split(), start=1):
        positions.setdefault(token, []).append(min(pos, 16383))
    lexemes = [f"'{t}':{','.join(map(str, sorted(set(p))[:256]))}" for t, p in positions.items()]
    lexemes += [f"'{c}'" for c in chars.split() if c not in positions]
    return " ".join(lexemes)


def _delete_index(ids: list[int], *, names: bool = True) -> None:
    if connection.vendor == "sqlite":
        tables = ["catalog_search_fts WHERE rowid", "catalog_search_names WHERE rowid"]
    else:
        tables = ["catalog_search_tsv WHERE item_id", "catalog_search_names WHERE item_id"]
    if not (names and _has_name_index()):
        tables = tables[:1]
    with connection.cursor() as cur:
        for table in tables:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                cur.execute(f"DELETE FROM {table} IN ({', '.join(['%s'] * len(chunk))})", chunk)


_name_index_seen: set[str] = set()


def _has_name_index() -> bool:
    """Whether the name-and-alias index exists (it does once the migrations that make it ran)."""
    key = str(connection.settings_dict["NAME"])
    if key in _name_index_seen:
        return True
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'catalog_search_names'")
            found = cur.fetchone() is not None
        else:
            cur.execute("SELECT to_regclass('catalog_search_names') IS NOT NULL")
            found = cur.fetchone()[0]
    if found:
        _name_index_seen.add(key)
    return found


def name_index_texts(name: str, aliases: str) -> tuple[str, str, str, str]:
    """What the name index stores: token sequence and characters of the name, then of the aliases."""
    return (*index_texts(name), *index_texts(aliases.replace("|", " ")))


def write_name_index(ids: list[int]) -> None:
    """Index the names and aliases of these search rows (read from the rows)."""
    with connection.cursor() as cur:
        for start in range(0, len(ids), 300):
            chunk = ids[start:start + 300]
            cur.execute("SELECT item_id, name, aliases FROM catalog_searchentry WHERE item_id IN "
                        f"({', '.join(['%s'] * len(chunk))})", chunk)
            rows = [(r[0], *name_index_texts(r[1], r[2])) for r in cur.fetchall()]
            if not rows:
                continue
            if connection.vendor == "sqlite":
                cur.execute("INSERT INTO catalog_search_names(rowid, name_seq, name_chars, alias_seq, alias_chars) "
                            "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)), [v for r in rows for v in r])
            else:
                cur.execute("INSERT INTO catalog_search_names(item_id, name_tsv, alias_tsv) VALUES "
                            + ", ".join(["(%s, %s::tsvector, %s::tsvector)"] * len(rows)),
                            [v for r in rows for v in (r[0], _tsvector_literal(r[1], r[2]),
                                                       _tsvector_literal(r[3], r[4]))])


def optimize_index() -> None:
    """Merge the text indexes after a bulk load (SQLite: FTS5 segments; PostgreSQL: statistics)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("INSERT INTO catalog_search_fts(catalog_search_fts) VALUES ('optimize')")
            if _has_name_index():
                cur.execute("INSERT INTO catalog_search_names(catalog_search_names) VALUES ('optimize')")
        else:
            cur.execute("ANALYZE catalog_search_tsv")
            if _has_name_index():
                cur.execute("ANALYZE catalog_search_names")


def write_index(rows: list[tuple[int, str, str]]) -> None:
    """Store (item id, token sequence, character set) rows, replacing earlier ones; the name index
    follows from the search rows of the same items (write those first)."""
    if not rows:
        return
    _delete_index([r[0] for r in rows])
    with connection.cursor() as cur:
        for start in range(0, len(rows), 300):
            chunk = rows[start:start + 300]
            if connection.vendor == "sqlite":
                cur.execute("INSERT INTO catalog_search_fts(rowid, seq, chars) VALUES "
                            + ", ".join(["(%s, %s, %s)"] * len(chunk)), [v for r in chunk for v in r])
            else:
                cur.execute("INSERT INTO catalog_search_tsv(item_id, tsv) VALUES "
                            + ", ".join([f"(%s, {TSV_VALUE})"] * len(chunk)),
                            [v for r in chunk for v in (r[0], _tsvector_literal(r[1], r[2]))])
    if _has_name_index():
        write_name_index([r[0] for r in rows])


def stored_index(item_id: int) -> str:
    """What the index holds for one item, as text (for checks and diagnosis)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT seq || ' / ' || chars FROM catalog_search_fts WHERE rowid = %s", [item_id])
        else:
            cur.execute("SELECT tsv::text FROM catalog_search_tsv WHERE item_id = %s", [item_id])
        row = cur.fetchone()
    if row and connection.vendor != "sqlite":
        return " ".join(p for p in row[0].split(" ") if not p.startswith("'~"))  # without the filler
    return row[0] if row else ""


def stored_names(item_id: int) -> str:
    """What the name index holds for one item, as text (for checks and diagnosis)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT name_seq || ' ' || name_chars || ' / ' || alias_seq || ' ' || alias_chars "
                        "FROM catalog_search_names WHERE rowid = %s", [item_id])
        else:
            cur.execute("SELECT name_tsv::text || ' / ' || alias_tsv::text FROM catalog_search_names "
                        "WHERE item_id = %s", [item_id])
        row = cur.fetchone()
    return row[0] if row else ""


# ----------------------------------------------------------------------------- revision and caching
def current_revision() -> int:
    """The catalog revision: one primary-key read (plain SQL: it runs before every cached answer)."""
    from yiwang.catalog.models import CatalogRevision

    with connection.cursor() as cur:
        cur.execute(f"SELECT counter FROM {CatalogRevision._meta.db_table} WHERE id = 1")
        row = cur.fetchone()
    return row[0] if row else 0


def bump_revision() -> None:
    """Advance the catalog revision: every cached search answer before it is stale."""
    from django.db.models import F

    from yiwang.catalog.models import CatalogRevision

    if not CatalogRevision.objects.filter(pk=1).update(counter=F("counter") + 1):
        CatalogRevision.objects.get_or_create(pk=1, defaults={"counter": 1})


def _cache_key(revision: int, kind: str, q: str, f: "Filters", extra: str = "") -> str:
    raw = f"{q}\x1f{dataclasses.astuple(f)}\x1f{extra}"
    return f"search:{revision}:{kind}:{hashlib.sha1(raw.encode()).hexdigest()}"


def _cache_enabled() -> bool:
    from django.conf import settings

    return getattr(settings, "YIWANG_SEARCH_CACHE_SECONDS", 300) > 0


def _ttl() -> int:
    from django.conf import settings

    return getattr(settings, "YIWANG_SEARCH_CACHE_SECONDS", 300)


class SearchResults:
    """The ranked matches of one query, sliceable and countable like a queryset (so Django's and
    DRF's paginators accept it), with page ids and the count cached per catalog revision.

    A page never reads every match: the count is exact up to :data:`COUNT_CAP` and otherwise
    that cap, a lower bound (``count_exact`` is then False, and pages end at the cap); the page
    itself comes from the name tiers and a popularity walk with an early stop (see ``_Plan``).

    ``related`` and ``only`` say what a page loads with its rows.
    """

    def __init__(self, q: str = "", filters: "Filters | None" = None, *, related: Iterable[str] = (),
                 only: Iterable[str] = ()):
        self.q = q
        self.filters = filters or Filters()
        self.related = tuple(related)
        self.only_fields = tuple(only)
        self._revision: int | None = None
        self._count: tuple[int, bool] | None = None
        self._plan: _Plan | None = None

    @property
    def revision(self) -> int:
        if self._revision is None:
            self._revision = current_revision()
        return self._revision

    @property
    def plan(self) -> _Plan:
        if self._plan is None:
            self._plan = _Plan(self.q, self.filters)
        return self._plan

    def queryset(self) -> QuerySet:
        """Every match ranked in SQL (the reference order; slow for broad terms)."""
        return search(self.q, self.filters)

    def _counted(self) -> tuple[int, bool]:
        if self._count is None:
            if not _cache_enabled():
                self._count = self.plan.count()
                return self._count
            key = _cache_key(self.revision, "count2", self.q, self.filters)
            value = cache.get(key)
            if value is None:
                value = self.plan.count()
                cache.set(key, value, _ttl())
            self._count = tuple(value)
        return self._count

    def count(self) -> int:
        """How many items match, exact up to COUNT_CAP (see ``count_exact``)."""
        return self._counted()[0]

    @property
    def count_exact(self) -> bool:
        """False when more items match than ``count()`` says (it is then COUNT_CAP)."""
        return self._counted()[1]

    def __len__(self) -> int:
        return self.count()

    def ids(self, start: int, stop: int) -> list[int]:
        if not _cache_enabled():
            return self.plan.ids(start, stop)
        key = _cache_key(self.revision, "ids", self.q, self.filters, f"{start}:{stop}")
        ids = cache.get(key)
        if ids is None:
            ids = self.plan.ids(start, stop)
            cache.set(key, ids, _ttl())
        return ids

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index:index + 1][0]
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        ids = self.ids(start, stop)
        rows = SearchEntry.objects.filter(item_id__in=ids)
        if self.related:
            rows = rows.select_related(*self.related)
        if self.only_fields:
            rows = rows.only(*self.only_fields)
        by_id = {r.item_id: r for r in rows}
        return [by_id[i] for i in ids if i in by_id]


def response_cache_key(host: str, params) -> str | None:
    """A cache key for a whole public answer (None when caching is off)."""
    if not _cache_enabled():
        return None
    items = sorted((k, v) for k in params for v in params.getlist(k)) if hasattr(params, "getlist") \
        else sorted(params.items())
    raw = f"{host}\x1f{items}"
    return f"search:{current_revision()}:answer:{hashlib.sha1(raw.encode()).hexdigest()}"


def cache_get(key: str | None):
    return cache.get(key) if key else None


def cache_set(key: str | None, value) -> None:
    if key:
        cache.set(key, value, _ttl())


def cached_facets(q: str = "", filters: "Filters | None" = None, *, revision: int | None = None,
                  ) -> dict[str, list[dict]]:
    """Facet counts, cached per catalog revision (pass the revision when it is already known)."""
    f = filters or Filters()
    if not _cache_enabled():
        return facets(q, f)
    key = _cache_key(current_revision() if revision is None else revision, "facets", q, f)
    value = cache.get(key)
    if value is None:
        value = facets(q, f)
        cache.set(key, value, _ttl())
    return value
