"""Chinese full-text search over the published catalog, the same on SQLite and PostgreSQL.

Text is indexed as tokens: every CJK character and every pair of adjacent CJK characters,
plus whole Latin words and numbers. A query term becomes the set of its bigrams (or the
character itself), found through an index — an FTS5 table on SQLite, a GIN index over the
token array on PostgreSQL — then confirmed with a substring match so that only real
occurrences count. Ranking: exact name, then name prefix, name, aliases, anything else.
Everyday words are widened through ``Synonym`` (开饭店 → 食品经营许可).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from yiwang.catalog import codes
from yiwang.catalog.models import SearchEntry, Synonym

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
MAX_TERMS = 5
MAX_QUERY_CHARS = 60


def tokens_of(text: str) -> set[str]:
    out: set[str] = set()
    for run in _TOKEN_RE.findall((text or "").lower()):
        if run[0].isascii():
            out.add(run)
            continue
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def term_tokens(term: str) -> set[str]:
    """Tokens that every document containing ``term`` must have."""
    need: set[str] = set()
    for run in _TOKEN_RE.findall(term.lower()):
        if run[0].isascii():
            need.add(run)
        elif len(run) == 1:
            need.add(run)
        else:
            need.update(run[i:i + 2] for i in range(len(run) - 1))
    return need


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
def _token_match_sql(needed: Iterable[str]) -> tuple[str, list]:
    needed = sorted(needed)
    if connection.vendor == "sqlite":
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in needed)
        return ("catalog_searchentry.item_id IN (SELECT rowid FROM catalog_search_fts "
                "WHERE catalog_search_fts MATCH %s)", [match])
    if connection.vendor == "postgresql":
        return "string_to_array(catalog_searchentry.tokens, ' ') @> %s::text[]", [needed]
    # Any other backend: a plain scan (correct, slower).
    return " AND ".join(["(' ' || catalog_searchentry.tokens || ' ') LIKE %s"] * len(needed)), \
        [f"% {t} %" for t in needed]


def _term_condition(term: str) -> Q:
    """Documents containing the term or one of its expansions: an index lookup, then a
    substring check that drops rows whose tokens only co-occur."""
    alternatives = Q()
    for variant in expand(term):
        needed = term_tokens(variant)
        if not needed:
            continue
        sql, params = _token_match_sql(needed)
        alternatives |= Q(RawSQL(sql, params, output_field=BooleanField())) & Q(document__contains=variant)
    return alternatives


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
    for term in terms:
        qs = qs.filter(_term_condition(term))
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
            version=version, name=version.name.lower(), aliases=version.aliases.lower(), document=document,
            tokens=" ".join(sorted(tokens_of(document))), organization_id=item.organization_id,
            region_code=item.region.code, item_type=version.item_type,
            for_person=bool(objects & codes.PERSON_OBJECTS), for_legal=bool(objects & codes.LEGAL_OBJECTS),
            online_level=version.online_level, popularity=item.popularity,
        ),
    )
    entry.themes.set(themes)
    _sync_fts(entry)
    return entry


def remove_item(item) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("DELETE FROM catalog_search_fts WHERE rowid = %s", [item.pk])
    SearchEntry.objects.filter(item=item).delete()


def _sync_fts(entry: SearchEntry) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cur:
        cur.execute("DELETE FROM catalog_search_fts WHERE rowid = %s", [entry.pk])
        cur.execute("INSERT INTO catalog_search_fts(rowid, tokens) VALUES (%s, %s)", [entry.pk, entry.tokens])


def rebuild_fts() -> None:
    """Refill the SQLite FTS table from the search rows (after bulk loads)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cur:
        cur.execute("DELETE FROM catalog_search_fts")
        cur.execute("INSERT INTO catalog_search_fts(rowid, tokens) SELECT item_id, tokens FROM catalog_searchentry")
