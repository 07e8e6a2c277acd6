"""Chinese full-text search over the published catalog, the same on SQLite and PostgreSQL.

Text is indexed in order as tokens: each pair of adjacent Chinese characters (a lone character
stands for itself) and each Latin word or number, plus the set of single characters. A query
term becomes a *phrase* of its tokens, which matches only where the characters really stand
together — an FTS5 phrase query on SQLite, a tsvector phrase query (``<->``) over a GIN index
on PostgreSQL — and a one-character term looks up the character set. No row of the catalog is
read to decide whether it matches; only the narrow search rows of the matches are read to rank.
Ranking: exact name, then name prefix, then name, then aliases, then anything else.
Everyday words are widened through ``Synonym`` (开饭店 → 食品经营许可).

Result pages, counts and facets are cached under the catalog's revision number, which every
publish or retirement advances, so a cached answer is never older than the catalog.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from yiwang.catalog import codes
from yiwang.catalog.models import SearchEntry, Synonym

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
_synonyms: tuple[float, dict[str, list[str]]] | None = None


def synonyms() -> dict[str, list[str]]:
    global _synonyms
    now = time.monotonic()
    if _synonyms is None or now - _synonyms[0] > 30:
        _synonyms = (now, {s.word.lower(): [t.lower() for t in s.terms()] for s in Synonym.objects.all()})
    return _synonyms[1]


def forget_synonyms() -> None:
    global _synonyms
    _synonyms = None


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


def _ts_phrase(term: str) -> str | None:
    """A tsquery expression for one term (PostgreSQL)."""
    tokens = [term] if _is_single_char(term) else token_sequence(term)
    if not tokens:
        return None
    return "(" + " <-> ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in tokens) + ")"


def _match_expression(terms: list[str]) -> tuple[str, list] | None:
    """SQL selecting the ids of items matching every term (each term or one of its synonyms)."""
    phrase = _fts_phrase if connection.vendor == "sqlite" else _ts_phrase
    clauses = []
    for term in terms:
        alternatives = [p for p in (phrase(v) for v in expand(term)) if p]
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
    """Published items matching ``q`` and the filters, best first."""
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


def facets(q: str = "", filters: Filters | None = None) -> dict[str, list[dict]]:
    """Counts per facet value over the matching set (ignoring that facet's own filter)."""
    from yiwang.catalog.models import Theme
    from yiwang.core.models import Organization, Region

    base = filters or Filters()

    def matching(**reset) -> QuerySet:
        f = dataclasses.replace(base, **reset)
        return search(q, f).order_by()

    out: dict[str, list[dict]] = {}
    rows = matching(item_type="").values("item_type").annotate(n=Count("item_id"))
    out["type"] = sorted(({"value": r["item_type"], "label": codes.ItemType(r["item_type"]).label,
                           "count": r["n"]} for r in rows if r["item_type"] in codes.ItemType.values),
                         key=lambda r: r["value"])
    rows = matching(depth=None).values("online_level").annotate(n=Count("item_id"))
    out["depth"] = sorted(({"value": r["online_level"], "label": codes.OnlineLevel(r["online_level"]).label,
                            "count": r["n"]} for r in rows), key=lambda r: r["value"])
    m = matching(object="")
    out["object"] = [
        {"value": "person", "label": "自然人", "count": m.filter(for_person=True).count()},
        {"value": "legal", "label": "法人", "count": m.filter(for_legal=True).count()},
    ]
    rows = matching(organization=None).values("organization").annotate(n=Count("item_id")).order_by("-n")[:30]
    names = dict(Organization.objects.filter(id__in=[r["organization"] for r in rows]).values_list("id", "name"))
    out["organization"] = [{"value": r["organization"], "label": names.get(r["organization"], ""),
                            "count": r["n"]} for r in rows]
    rows = matching(theme="").values("themes__code").annotate(n=Count("item_id")).order_by("-n")
    theme_names = dict(Theme.objects.values_list("code", "name"))
    out["theme"] = [{"value": r["themes__code"], "label": theme_names.get(r["themes__code"], ""),
                     "count": r["n"]} for r in rows if r["themes__code"]][:30]
    # Regions: counties (and the city itself) with matching items.
    rows = matching(region="").values("region_code").annotate(n=Count("item_id"))
    by_county: dict[str, int] = {}
    for r in rows:
        code = r["region_code"]
        key = code[:6].ljust(12, "0") if code[4:6] != "00" else code[:4].ljust(12, "0")
        by_county[key] = by_county.get(key, 0) + r["n"]
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


def _tsvector_literal(seq: str, chars: str) -> str:
    """A tsvector in its input syntax: sequence tokens with positions, characters without."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(seq.split(), start=1):
        positions.setdefault(token, []).append(min(pos, 16383))
    lexemes = [f"'{t}':{','.join(map(str, sorted(set(p))[:256]))}" for t, p in positions.items()]
    lexemes += [f"'{c}'" for c in chars.split() if c not in positions]
    return " ".join(lexemes)


def _delete_index(ids: list[int]) -> None:
    table = "catalog_search_fts WHERE rowid" if connection.vendor == "sqlite" else "catalog_search_tsv WHERE item_id"
    with connection.cursor() as cur:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            cur.execute(f"DELETE FROM {table} IN ({', '.join(['%s'] * len(chunk))})", chunk)


def write_index(rows: list[tuple[int, str, str]]) -> None:
    """Store (item id, token sequence, character set) rows, replacing earlier ones."""
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
                            + ", ".join(["(%s, %s::tsvector)"] * len(chunk)),
                            [v for r in chunk for v in (r[0], _tsvector_literal(r[1], r[2]))])


def stored_index(item_id: int) -> str:
    """What the index holds for one item, as text (for checks and diagnosis)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT seq || ' / ' || chars FROM catalog_search_fts WHERE rowid = %s", [item_id])
        else:
            cur.execute("SELECT tsv::text FROM catalog_search_tsv WHERE item_id = %s", [item_id])
        row = cur.fetchone()
    return row[0] if row else ""


# ----------------------------------------------------------------------------- revision and caching
def current_revision() -> int:
    from yiwang.catalog.models import CatalogRevision

    return CatalogRevision.objects.filter(pk=1).values_list("counter", flat=True).first() or 0


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

    ``related`` and ``only`` say what a page loads with its rows.
    """

    def __init__(self, q: str = "", filters: "Filters | None" = None, *, related: Iterable[str] = (),
                 only: Iterable[str] = ()):
        self.q = q
        self.filters = filters or Filters()
        self.related = tuple(related)
        self.only_fields = tuple(only)
        self._revision: int | None = None
        self._count: int | None = None

    @property
    def revision(self) -> int:
        if self._revision is None:
            self._revision = current_revision()
        return self._revision

    def queryset(self) -> QuerySet:
        return search(self.q, self.filters)

    def count(self) -> int:
        if self._count is None:
            if not _cache_enabled():
                self._count = self.queryset().order_by().count()
                return self._count
            key = _cache_key(self.revision, "count", self.q, self.filters)
            value = cache.get(key)
            if value is None:
                value = self.queryset().order_by().count()
                cache.set(key, value, _ttl())
            self._count = value
        return self._count

    def __len__(self) -> int:
        return self.count()

    def ids(self, start: int, stop: int) -> list[int]:
        if not _cache_enabled():
            return list(self.queryset().values_list("item_id", flat=True)[start:stop])
        key = _cache_key(self.revision, "ids", self.q, self.filters, f"{start}:{stop}")
        ids = cache.get(key)
        if ids is None:
            ids = list(self.queryset().values_list("item_id", flat=True)[start:stop])
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
