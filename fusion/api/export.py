"""Subgraph exports an analyst opens elsewhere: GraphML (yEd, Cytoscape), GEXF (Gephi), CSV.

Input is the API's own subgraph shape (a neighbourhood, a path set, a gang)::

    node: {"kind", "key", "label", "regions", "properties"}
    rel:  {"type", "from": {"kind", "key"}, "to": {"kind", "key"}, "properties"}

Every format carries the same flat attributes, because GraphML and GEXF attributes are scalars:

* node id ``KIND:key``; node attributes ``kind``, ``key`` (``entity_key`` in GEXF, where networkx
  reserves ``key``), ``label``, ``regions`` and each property;
* edge attributes ``rel_type`` (also the GEXF edge label) and each property; edges are keyed
  ``e0``, ``e1``, ... in input order (two entities can be linked by several relationships);
* lists and maps (``regions`` included) are JSON text, dates ISO 8601 text, ``None`` is left out;
* an attribute whose values mix types across elements is written as text (ints and floats mix
  to float), so each attribute has one declared type;
* a property whose name clashes with one of the names above or a GEXF reserved name is
  renamed ``prop_<name>``;
* characters XML cannot carry (control characters) are dropped from GraphML and GEXF.

CSV is ``nodes.csv`` and ``rels.csv`` (text, see :func:`subgraph_to_csv`). :func:`export_files`
gives the files of one format with their names and media types; the GraphQL ``ExportDocument``
(:mod:`fusion.api.types.graph`) adapts them.

Lists too large to page (millions of co-travel pairs) stream from ``POST /export`` as NDJSON or
Parquet (:func:`export_endpoint`): the same token, role, purpose and scope as the GraphQL field,
the same held answer its ``...Page`` field pages (one snapshot), rows as the field shows them,
written in chunks of :data:`CHUNK_ROWS` (the service never holds the encoded whole), audited as
one intent record before the first byte and one outcome record with the rows sent after the
last.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import networkx as nx
import polars as pl
import pyarrow.parquet as pq
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fusion.api.errors import INTERNAL, error_body, fusion_code
from fusion.api.requests import outcome_of, read_body
from fusion.api.scalars import parse_datetime
from fusion.auth import (
    Caller,
    action_for_field,
    allowed,
    authenticate,
    needs_purpose,
    resolve_scope,
)
from fusion.auth.access import TRUSTED_DOCUMENTS_ONLY
from fusion.errors import AuditUnavailable, BadInput, Forbidden, FusionError, PurposeRequired
from fusion.services import paged
from fusion.services.events import SUBJECT_KINDS

logger = logging.getLogger("fusion.api")
T = TypeVar("T")

Scalar = str | int | float | bool

RESERVED = frozenset({
    "id", "label", "kind", "key", "entity_key", "regions", "rel_type", "type", "weight",
    "start", "end", "viz", "pid", "networkx_key", "from_id", "to_id", "from_kind", "from_key",
    "to_kind", "to_key",
})
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .,()/-]*")

# Format (the GraphQL ExportFormat's value) -> the media type of its files.
MEDIA_TYPES = {
    "GRAPHML": "application/graphml+xml",
    "GEXF": "application/gexf+xml",
    "CSV": "text/csv",
}


def node_id(kind: str, key: str) -> str:
    """The exported id of an entity."""
    return f"{kind}:{key}"


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def flatten_value(value: Any) -> Scalar | None:
    """A property value as a scalar GraphML/GEXF accept: JSON text for lists and maps."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset | dict):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return json.dumps(items, ensure_ascii=False, sort_keys=True, default=_text)
    return _text(value)


def _property_name(name: str) -> str:
    return f"prop_{name}" if name in RESERVED else name


def _flat_properties(properties: dict[str, Any] | None) -> dict[str, Scalar]:
    flat = {}
    for name, value in (properties or {}).items():
        scalar = flatten_value(value)
        if scalar is not None:
            flat[_property_name(str(name))] = scalar
    return flat


def node_attributes(node: dict) -> dict[str, Scalar]:
    """The flat attributes of one exported node."""
    attrs: dict[str, Scalar] = {"kind": str(node["kind"]), "key": str(node["key"])}
    if node.get("label") is not None:
        attrs["label"] = str(node["label"])
    attrs["regions"] = flatten_value(list(node.get("regions") or []))
    attrs.update(_flat_properties(node.get("properties")))
    return attrs


def rel_attributes(rel: dict) -> dict[str, Scalar]:
    """The flat attributes of one exported relationship."""
    return {"rel_type": str(rel["type"]), **_flat_properties(rel.get("properties"))}


def _endpoint(ref: dict) -> str:
    return node_id(str(ref["kind"]), str(ref["key"]))


def build_graph(nodes: list[dict], rels: list[dict]) -> nx.MultiDiGraph:
    """The subgraph as a networkx multigraph with flat, type-consistent attributes."""
    G = nx.MultiDiGraph()
    for node in nodes:
        G.add_node(node_id(str(node["kind"]), str(node["key"])), **node_attributes(node))
    for i, rel in enumerate(rels):
        for ref in (rel["from"], rel["to"]):
            if _endpoint(ref) not in G:
                G.add_node(_endpoint(ref), kind=str(ref["kind"]), key=str(ref["key"]))
        G.add_edge(_endpoint(rel["from"]), _endpoint(rel["to"]), key=f"e{i}",
                   **rel_attributes(rel))
    _unify_types(attrs for _, attrs in G.nodes(data=True))
    _unify_types(attrs for _, _, attrs in G.edges(data=True))
    return G


def _kind_of(value: Scalar) -> type:
    return bool if isinstance(value, bool) else type(value)


def _unify_types(elements: Iterable[dict[str, Scalar]]) -> None:
    """Make every attribute one type across elements: int+float -> float, other mixes -> str."""
    elements = list(elements)
    kinds: dict[str, set[type]] = {}
    for attrs in elements:
        for name, value in attrs.items():
            kinds.setdefault(name, set()).add(_kind_of(value))
    target = {name: float if k == {int, float} else str
              for name, k in kinds.items() if len(k) > 1}
    for attrs in elements:
        for name, cast in target.items():
            if name in attrs:
                value = attrs[name]
                attrs[name] = float(value) if cast is float else _scalar_text(value)


def _scalar_text(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _xml_safe(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose string ids and attributes hold only characters XML 1.0 allows."""
    clean = nx.MultiDiGraph()
    strip = _strip_illegal
    clean.add_nodes_from((strip(n), {k: strip(v) for k, v in d.items()})
                         for n, d in G.nodes(data=True))
    clean.add_edges_from((strip(u), strip(v), key, {k: strip(x) for k, x in d.items()})
                         for u, v, key, d in G.edges(keys=True, data=True))
    return clean


def _strip_illegal(value: Any) -> Any:
    return _XML_ILLEGAL.sub("", value) if isinstance(value, str) else value


def subgraph_to_graphml(nodes: list[dict], rels: list[dict]) -> str:
    """The subgraph as a GraphML document."""
    return "\n".join(nx.generate_graphml(_xml_safe(build_graph(nodes, rels)))) + "\n"


def subgraph_to_gexf(nodes: list[dict], rels: list[dict]) -> str:
    """The subgraph as a GEXF 1.2 document.

    networkx reserves ``key`` in GEXF, so the entity key is ``entity_key`` there; edge ids are
    the edge keys and edge labels the relationship types.
    """
    G = _xml_safe(build_graph(nodes, rels))
    for _, attrs in G.nodes(data=True):
        attrs["entity_key"] = attrs.pop("key")
    for _, _, key, attrs in G.edges(keys=True, data=True):
        attrs["id"] = key
        attrs["label"] = attrs["rel_type"]
    return "\n".join(nx.generate_gexf(G, version="1.2draft")) + "\n"


def _guard(value: Any, guard_formulas: bool) -> Any:
    if (guard_formulas and isinstance(value, str) and value.startswith(_FORMULA_START)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return "" if value is None else value


def _write_csv(header: list[str], rows: list[dict], guard_formulas: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_guard(row.get(col), guard_formulas) for col in header])
    return out.getvalue()


def _columns(fixed: list[str], rows: list[dict]) -> list[str]:
    extra = sorted({name for row in rows for name in row} - set(fixed))
    return fixed + extra


def subgraph_to_csv(nodes: list[dict], rels: list[dict], *,
                    guard_formulas: bool = False) -> dict[str, str]:
    """``{"nodes.csv": text, "rels.csv": text}``: one row per node / relationship.

    Columns: nodes ``id, kind, key, label, regions`` then each property (sorted); rels ``type,
    from_id, from_kind, from_key, to_id, to_kind, to_key`` then each property. Values are
    flattened as in GraphML. ``guard_formulas`` prefixes ``'`` to cells that start with
    ``= + - @`` (or a tab or carriage return) and are not plain numbers, so a spreadsheet does
    not evaluate them as formulas; ``+86 138...`` phone numbers stay as they are.
    """
    node_rows = [{"id": node_id(str(n["kind"]), str(n["key"])), **node_attributes(n)}
                 for n in nodes]
    rel_rows = [_rel_row(r) for r in rels]
    node_cols = _columns(["id", "kind", "key", "label", "regions"], node_rows)
    rel_cols = _columns(["type", "from_id", "from_kind", "from_key", "to_id", "to_kind",
                         "to_key"], rel_rows)
    return {"nodes.csv": _write_csv(node_cols, node_rows, guard_formulas),
            "rels.csv": _write_csv(rel_cols, rel_rows, guard_formulas)}


def _rel_row(rel: dict) -> dict[str, Scalar]:
    src, dst = rel["from"], rel["to"]
    return {
        "type": str(rel["type"]),
        "from_id": _endpoint(src), "from_kind": str(src["kind"]), "from_key": str(src["key"]),
        "to_id": _endpoint(dst), "to_kind": str(dst["kind"]), "to_key": str(dst["key"]),
        **_flat_properties(rel.get("properties")),
    }


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export: its suggested name, media type and text."""

    name: str
    media_type: str
    content: str


def _plain(items: Iterable) -> list[dict]:
    """Nodes and Rels as their export dicts; dicts as they are."""
    return [x.as_export() if hasattr(x, "as_export") else x for x in items]


def export_files(fmt: str, nodes: Iterable, rels: Iterable, name: str) -> list[ExportedFile]:
    """The subgraph (Nodes/Rels or their export dicts) in format GRAPHML, GEXF or CSV, its files
    named after ``name``: one GraphML or GEXF document, or nodes and relationships as CSV."""
    if fmt not in MEDIA_TYPES:
        raise BadInput(f"unknown export format {fmt!r}; expected one of {sorted(MEDIA_TYPES)}")
    node_dicts, rel_dicts = _plain(nodes), _plain(rels)
    if fmt == "CSV":
        texts = subgraph_to_csv(node_dicts, rel_dicts, guard_formulas=True)
        return [ExportedFile(f"{name}-{part}", MEDIA_TYPES[fmt], text)
                for part, text in sorted(texts.items())]
    write = subgraph_to_graphml if fmt == "GRAPHML" else subgraph_to_gexf
    return [ExportedFile(f"{name}.{fmt.lower()}", MEDIA_TYPES[fmt], write(node_dicts, rel_dicts))]


# -- streamed lists: POST /export -------------------------------------------------------------

EXPORT_PATH = "/export"
CHUNK_ROWS = 50_000
STREAM_TYPES = {"ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
# The arguments of each streamed list, as its GraphQL field names them.
STREAM_ARGUMENTS = {"coTravel": {"windowSeconds", "minMeetings", "minDistinctSensors", "since",
                                 "until", "scope", "minSignificance"}}
_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "BAD_INPUT": 400, "NOT_FOUND": 404,
           "TOO_COMPLEX": 422, "UNAVAILABLE": 503, INTERNAL: 500}
_SUBJECT_KINDS = dict(SUBJECT_KINDS)
_MAX_BODY = 64 * 1024


# The figures beside the contract's eight, in the order coTravelPage's ``rows`` give them:
# (shown name, pair_frame column).
FIGURES = (("significance", "significance"), ("expectedMeetings", "expected_meetings"),
           ("distinctDays", "distinct_days"), ("leader", "lead_s"),
           ("medianLeadSeconds", "lead_s"), ("aReads", "a_reads"), ("bReads", "b_reads"))
# coTravelPage's ``rows``: the values of each array, in order.
ROW_FIELDS = ("aKind", "aKey", "bKind", "bKey", "meetings", "distinctSensors", "firstAt",
              "lastAt", *(name for name, _ in FIGURES))


def _kind(side: str) -> pl.Expr:
    return pl.col(f"{side}_type").replace_strict(_SUBJECT_KINDS, return_dtype=pl.String)


def _ref(side: str) -> pl.Expr:
    return pl.struct(kind=_kind(side), key=pl.col(side))


def _time(column: str, text: bool) -> pl.Expr:
    """A pair_frame time as the API writes it with ``text`` (ISO 8601, microseconds unless
    zero), else as it is."""
    at = pl.col(column)
    if not text:
        return at
    return (pl.when(at.dt.microsecond() == 0)
            .then(at.dt.to_string("%Y-%m-%dT%H:%M:%S+00:00"))
            .otherwise(at.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")))


def _figures(leader: pl.Expr) -> list[pl.Expr]:
    """The #16 figures in FIGURES' order, ``leader`` standing for the pair's leader."""
    return [leader.alias("leader") if name == "leader" else pl.col(column).alias(name)
            for name, column in FIGURES]


def _leader(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a`` where a usually passes first, ``b`` where b does, null where neither does."""
    lead = pl.col("lead_s")
    return pl.when(lead > 0).then(a).when(lead < 0).then(b).otherwise(None)


def _shown(text_times: bool) -> list[pl.Expr]:
    """pair_frame's columns as coTravel's items show them (see :func:`pair_rows`)."""
    return [_ref("a").alias("a"), _ref("b").alias("b"), pl.col("meetings"),
            pl.col("distinct_sensors").alias("distinctSensors"),
            _time("first_at", text_times).alias("firstAt"),
            _time("last_at", text_times).alias("lastAt"),
            *_figures(_leader(_ref("a"), _ref("b")))]


# Built once: building polars expressions costs about as much as evaluating them on a page.
_SHOWN = {text: _shown(text) for text in (False, True)}
_ARRAYS = [_kind("a").alias("aKind"), pl.col("a").alias("aKey"), _kind("b").alias("bKind"),
           pl.col("b").alias("bKey"), pl.col("meetings"),
           pl.col("distinct_sensors").alias("distinctSensors"),
           _time("first_at", True).alias("firstAt"), _time("last_at", True).alias("lastAt"),
           *_figures(_leader(pl.lit("a"), pl.lit("b")))]


def pair_rows(frame: pl.DataFrame, *, text_times: bool = False) -> pl.DataFrame:
    """Co-travel pairs (:func:`fusion.services.cotravel.pair_frame`) as coTravel shows them:
    ``a`` and ``b`` as ``{kind, key}``, meetings, distinctSensors, firstAt, lastAt (with
    ``text_times``, as the API writes them: ISO 8601, microseconds unless zero), then
    significance, expectedMeetings, distinctDays, leader (``{kind, key}`` or null),
    medianLeadSeconds, aReads, bReads."""
    return frame.select(_SHOWN[text_times])


def pair_arrays(frame: pl.DataFrame) -> list[tuple]:
    """Co-travel pairs as coTravelPage's ``rows``: one tuple of :data:`ROW_FIELDS` a pair
    (times as the API writes them; leader as ``"a"``, ``"b"`` or None), computed column-wise
    in one polars pass over the slice, then zipped."""
    columns = frame.select(_ARRAYS).get_columns()
    return list(zip(*(column.to_list() for column in columns), strict=True))


Shape = Callable[[pl.DataFrame], pl.DataFrame]


def _same(rows: pl.DataFrame) -> pl.DataFrame:
    return rows


def ndjson_chunks(rows: pl.DataFrame, chunk: int = CHUNK_ROWS, shape: Shape = _same
                  ) -> Iterator[tuple[int, bytes]]:
    """``rows`` (each chunk through ``shape``) as NDJSON, one JSON object a line, ``chunk``
    rows at a time: (rows written so far, bytes)."""
    for start in range(0, rows.height, chunk):
        part = shape(rows.slice(start, chunk))
        out = io.BytesIO()  # bytes as polars writes them (its str form decodes, we re-encoded)
        part.write_ndjson(out)
        yield start + part.height, out.getvalue()


class _Drain(io.RawIOBase):
    """A write-only file that hands its bytes out as they come (the Parquet writer's sink)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self.parts.append(raw)
        self.written += len(raw)
        return len(raw)

    def tell(self) -> int:
        return self.written

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def parquet_chunks(rows: pl.DataFrame, chunk: int = CHUNK_ROWS, shape: Shape = _same
                   ) -> Iterator[tuple[int, bytes]]:
    """``rows`` (each chunk through ``shape``) as one Parquet file (zstd), a row group of
    ``chunk`` rows at a time: (rows written so far, bytes); the footer comes last. No
    dictionary encoding: keys and figures are nearly all distinct, so dictionaries cost ~40 %
    of the writing time and made the file larger."""
    sink = _Drain()
    schema = shape(rows.head(0)).to_arrow().schema
    with pq.ParquetWriter(sink, schema, compression="zstd", use_dictionary=False) as writer:
        for start in range(0, rows.height, chunk):
            part = shape(rows.slice(start, chunk))
            writer.write_table(part.to_arrow(), row_group_size=chunk)
            yield start + part.height, sink.take()
    yield rows.height, sink.take()


@dataclass
class _Export:
    """One admitted export: who, why, which list with which arguments, over which regions."""

    caller: Caller
    purpose: str | None
    name: str
    fmt: str
    variables: dict
    regions: frozenset[str] = field(default_factory=frozenset)

    def audit(self, outcome: str, rows: int | None) -> dict:
        return {"user": self.caller.user, "role": self.caller.role,
                "operation_name": f"export_{self.name}", "document": None,
                "variables": self.variables, "purpose": self.purpose,
                "scope": sorted(self.regions), "outcome": outcome, "result_count": rows}


async def export_endpoint(request: Request) -> Response:
    """POST /export: ``{"list": "coTravel", "format": "ndjson"|"parquet", "variables": {...}}``
    streams the whole list; errors before the first byte are GraphQL-shaped JSON."""
    services = request.app.state.services
    try:
        export = await _admit(request, services)
    except FusionError as err:
        return await _refused(services, request, fusion_code(err), str(err))
    except Exception:  # a bug: logged, masked, and still audited like any refusal
        logger.exception("export refused by an unexpected error")
        return await _refused(services, request, INTERNAL, "Internal error.")
    try:
        await services.audit.append(**export.audit("intent", None))
    except AuditUnavailable:
        return _error("UNAVAILABLE", "The audit log cannot be written; nothing was exported.")
    try:
        snapshot, frame = await _pairs(services, export)
    except Exception as err:  # the intent is on record: so is the outcome, whatever failed
        if isinstance(err, FusionError):
            code, message = fusion_code(err), str(err)
        else:
            logger.exception("export %s failed by an unexpected error", export.name)
            code, message = INTERNAL, "Internal error."
        await _audit_quietly(services, export.audit(outcome_of([code]), None))
        return _error(code, message)
    headers = {"X-Fusion-Snapshot": snapshot, "X-Fusion-Total-Count": str(frame.height),
               "Content-Disposition": f'attachment; filename="{export.name}.{export.fmt}"'}
    return StreamingResponse(_stream(services, export, frame),
                             media_type=STREAM_TYPES[export.fmt], headers=headers)


async def _admit(request: Request, services: Any) -> _Export:
    """Authenticate, authorize and read the body (FusionError otherwise)."""
    caller = authenticate(request.headers.get("authorization"), services.secret)
    purpose = (request.headers.get("x-purpose") or "").strip() or None
    body = await _body(request)
    name, fmt, variables = body.get("list"), body.get("format", "ndjson"), body.get(
        "variables") or {}
    if not isinstance(name, str) or name not in STREAM_ARGUMENTS:
        raise BadInput(f"list must be one of {', '.join(sorted(STREAM_ARGUMENTS))}")
    if not isinstance(fmt, str) or fmt not in STREAM_TYPES:
        raise BadInput(f"format must be one of {', '.join(sorted(STREAM_TYPES))}")
    if not isinstance(variables, dict) or set(variables) - STREAM_ARGUMENTS[name]:
        raise BadInput(f"variables of {name} are {', '.join(sorted(STREAM_ARGUMENTS[name]))}")
    action = action_for_field(name)
    if caller.role in TRUSTED_DOCUMENTS_ONLY or not allowed(caller.role, action):
        raise Forbidden(f"The role {caller.role} may not export {name}.")
    if services.settings.require_purpose and needs_purpose(action) and not purpose:
        raise PurposeRequired("State the purpose of this export (case number or reason) in "
                              "the X-Purpose header.")
    export = _Export(caller, purpose, name, fmt, variables)
    regions, joint = _scope_argument(variables.get("scope") or {})
    export.regions = await resolve_scope(caller, regions, joint, services.joint_operations)
    return export


def _scope_argument(scope: object) -> tuple[list[str] | None, str | None]:
    """(regions, jointOperation) of a ``scope`` variable, typed as the GraphQL ScopeInput
    would coerce them (BadInput otherwise)."""
    shape = "scope is {regions: [String!], jointOperation: ID}"
    if not isinstance(scope, dict) or set(scope) - {"regions", "jointOperation"}:
        raise BadInput(shape)
    regions, joint = scope.get("regions"), scope.get("jointOperation")
    if regions is not None and not (isinstance(regions, list)
                                    and all(isinstance(r, str) for r in regions)):
        raise BadInput(shape)
    if isinstance(joint, int) and not isinstance(joint, bool):
        joint = str(joint)   # an ID may be sent as an integer
    if joint is not None and not isinstance(joint, str):
        raise BadInput(shape)
    return regions, joint


async def _body(request: Request) -> dict:
    raw = await read_body(request.stream(), request.headers.get("content-length"), _MAX_BODY)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise BadInput("The export request body must be JSON.") from None
    if not isinstance(body, dict):
        raise BadInput("The export request body must be a JSON object.")
    return body


async def _pairs(services: Any, export: _Export) -> tuple[str, pl.DataFrame]:
    """The whole co-travel list of the export's arguments (held, as coTravelPage holds it)."""
    v = export.variables

    def number(name: str, default: int) -> int:
        value = v.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadInput(f"{name} must be an integer")
        return value

    def moment(name: str) -> Any:
        return None if v.get(name) is None else parse_datetime(v[name])

    def real(name: str, default: float) -> float:
        value = v.get(name, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadInput(f"{name} must be a number")
        return float(value)

    return await paged.co_travel_pair_frame(
        services.runtime, scope=export.regions,
        window=number("windowSeconds", paged.cotravel.WINDOW),
        min_meetings=number("minMeetings", paged.cotravel.MIN_MEETINGS),
        min_distinct_sensors=number("minDistinctSensors", paged.cotravel.MIN_DISTINCT_SENSORS),
        since=moment("since"), until=moment("until"),
        min_significance=real("minSignificance", paged.cotravel.MIN_SIGNIFICANCE))


async def _stream(services: Any, export: _Export, frame: pl.DataFrame
                  ) -> AsyncIterator[bytes]:
    """The pairs shaped and encoded a chunk at a time, off the event loop; then the outcome
    record."""
    text_times = export.fmt == "ndjson"
    write = ndjson_chunks if text_times else parquet_chunks
    chunks = write(frame, shape=lambda part: pair_rows(part, text_times=text_times))
    sent, outcome = 0, "failed:INTERRUPTED"
    try:
        async for rows, data in one_ahead(chunks):
            yield data
            sent = rows
        outcome = "allowed"
    finally:
        await _audit_quietly(services, export.audit(outcome, sent))


async def one_ahead(chunks: Iterator[T]) -> AsyncIterator[T]:
    """``chunks``, each computed on a worker thread while the caller uses the one before (so
    encoding overlaps sending); at most two are held at a time."""
    ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield chunk
    finally:  # the caller stopped early (client gone): the chunk under way is dropped
        ahead.add_done_callback(_dropped)


def _dropped(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.info("export chunk after the client left failed: %s", future.exception())


async def _audit_quietly(services: Any, record: dict) -> None:
    """Append an export's outcome record (its intent is on record already; a failure here is
    logged: the bytes have left)."""
    try:
        await services.audit.append(**record)
    except AuditUnavailable:
        logger.exception("export outcome not audited: %s", record["outcome"])


async def _refused(services: Any, request: Request, code: str, message: str) -> Response:
    """The one record and the JSON error of an export refused before it started."""
    try:
        caller = authenticate(request.headers.get("authorization"), services.secret)
    except FusionError:
        caller = None
    try:
        await services.audit.append(
            user=caller.user if caller else None, role=caller.role if caller else None,
            operation_name="export", document=None, variables=None,
            purpose=(request.headers.get("x-purpose") or "").strip() or None, scope=None,
            outcome=outcome_of([code]), result_count=None)
    except AuditUnavailable:
        return _error("UNAVAILABLE", "The audit log cannot be written; nothing was exported.")
    return _error(code, message)


def _error(code: str, message: str) -> Response:
    return JSONResponse(error_body(code, message, None), status_code=_STATUS.get(code, 400))


def export_routes() -> list[Route]:
    """The streamed export's route."""
    return [Route(EXPORT_PATH, export_endpoint, methods=["POST"])]
