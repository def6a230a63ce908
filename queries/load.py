"""Cypher of the loaders: batched, parameterized, columnar ``UNWIND`` writes.

Labels, relationship types and property names come from the vocabulary (``queries.model``)
through the tables below, never from data; every value travels in parameters. Parameters are
**columnar**: one list per property (``$key``, ``$regions``, ``$name`` ...) and
``UNWIND range(0, size($key) - 1) AS i`` reads ``$key[i]``. A list per column packs and
unpacks several times cheaper than a list of maps.
Each statement names its properties explicitly (a ``SET n += map`` would make the planner
insert Eager barriers), and timestamps travel as two integer columns, ``<name>_s`` (epoch
seconds) and ``<name>_ns`` (nanoseconds), turned into a UTC DateTime by
``datetime.fromepoch`` (the driver's own temporal packing costs ~0.2 ms a value).

Every element has two writes:

- **upsert** (``MERGE``): ``regions`` becomes the sorted union of what the element had and
  what the row brings, a null property keeps the stored value; writing a row twice changes
  nothing. Aggregate relationships (CALLED, SEEN_AT) get absolute values, never increments.
- **create** (``CREATE``): for elements the writer has just proven absent (no node with the
  key; a start node without any relationship of the type). It sets what the upsert would set
  on a new element, without the lookup, locking and union work of ``MERGE``.

Relationship statements look each distinct end node up once per batch (``$ak``, ``$bk``:
distinct keys; ``$ai``, ``$bi``: each row's position in them) instead of twice per row. The
looked-up lists are checked against the parameters in one comparison, and every write
statement returns its row count, which the writer compares with the batch: a missing node is
an error, never a silently skipped row.

Every statement starts with ``CYPHER replan=skip`` (:data:`PLANNED`): its plan (index seeks
on the unique keys, whatever the counts) is the one the server's warm-up made
(``loaders.warmup``). Without it Neo4j replans a statement whenever the graph's counts have
moved enough (a load moves them from batch to batch), and a new plan starts over with
interpreted expressions, several times slower than the compiled ones its tenth run gets.
"""

from __future__ import annotations

from queries.model import VOCABULARY, Triple, Vocabulary

Props = tuple[tuple[str, ...], tuple[str, ...]]


def node_properties(vocabulary: Vocabulary) -> dict[str, Props]:
    """Label -> (plain properties, timestamp properties) written besides key and regions."""
    return {k.label: (k.properties, k.times) for k in vocabulary.entities}


def relationship_properties(vocabulary: Vocabulary) -> dict[Triple, tuple[str, ...]]:
    """(from, type, to) -> plain properties, for relationships merged from records."""
    return {t: r.properties for r in vocabulary.relationships if r.loaded and not r.aggregate
            for t in r.triples}


def aggregate_properties(vocabulary: Vocabulary) -> dict[Triple, Props]:
    """(from, type, to) -> (plain, timestamp) aggregate properties, set to absolute values."""
    return {t: (r.properties, r.times) for r in vocabulary.relationships
            if r.loaded and r.aggregate for t in r.triples}


NODE_PROPERTIES = node_properties(VOCABULARY)
RELATIONSHIP_PROPERTIES = relationship_properties(VOCABULARY)
AGGREGATE_PROPERTIES = aggregate_properties(VOCABULARY)

def _union(v: str) -> str:
    """Sorted union of ``v.regions`` and ``$regions[i]`` (insertion into a sorted list)."""
    return (f"reduce(acc = coalesce({v}.regions, []), x IN $regions[i] | CASE WHEN x IN acc "
            "THEN acc ELSE [y IN acc WHERE y < x] + x + [y IN acc WHERE y > x] END)")


def _time(t: str) -> str:
    return f"datetime.fromepoch(${t}_s[i], ${t}_ns[i])"


def _keep(v: str, props: tuple[str, ...], times: tuple[str, ...]) -> list[str]:
    """Each property from its column; a null keeps the stored value."""
    sets = [f"{v}.{p} = coalesce(${p}[i], {v}.{p})" for p in props]
    sets += [f"{v}.{t} = CASE WHEN ${t}_s[i] IS NULL THEN {v}.{t} ELSE {_time(t)} END"
             for t in times]
    return sets


def _fresh(v: str, props: tuple[str, ...], times: tuple[str, ...],
           nullable_times: bool) -> list[str]:
    """Each property from its column, on a new element (a null sets nothing)."""
    sets = [f"{v}.{p} = ${p}[i]" for p in props]
    sets += [f"{v}.{t} = CASE WHEN ${t}_s[i] IS NULL THEN null ELSE {_time(t)} END"
             if nullable_times else f"{v}.{t} = {_time(t)}" for t in times]
    return sets


# Keep the cached plan however the counts move (see the module docstring).
PLANNED = "CYPHER replan=skip "
_ROWS = PLANNED + "UNWIND range(0, size($key) - 1) AS i "


def upsert_node(label: str, spec: Props) -> str:
    """The MERGE statement of a node label with its (plain, timestamp) properties."""
    props, times = spec
    sets = [f"n.regions = {_union('n')}", *_keep("n", tuple(p for p in props if p != "name"),
                                                  times)]
    if label == "Person":
        # A case row's name (fallback_name) is used only while the registry has given none.
        sets += ["n.name = coalesce($name[i], n.name, $fallback_name[i])",
                 "n.label = coalesce($name[i], n.name, $fallback_name[i], n.key)"]
    elif "label" not in props:
        sets.append("n.label = n.key")
    return _node(label, False, sets)


def create_node(label: str, spec: Props) -> str:
    """The CREATE statement of a node label proven absent."""
    props, times = spec
    sets = ["n.regions = $regions[i]",
            *_fresh("n", tuple(p for p in props if p != "name"), times, nullable_times=True)]
    if label == "Person":
        sets += ["n.name = coalesce($name[i], $fallback_name[i])",
                 "n.label = coalesce($name[i], $fallback_name[i], $key[i])"]
    elif "label" not in props:
        sets.append("n.label = $key[i]")
    return _node(label, True, sets)


def _node(label: str, create: bool, sets: list[str]) -> str:
    verb = "CREATE" if create else "MERGE"
    return (_ROWS + f"{verb} (n:{label} {{key: $key[i]}}) SET " + ", ".join(sets)
            + " RETURN count(*) AS rows")


def _ends(a: str, b: str) -> str:
    """Bind ``a`` and ``b`` per row from one lookup per distinct key (in parameter order)."""
    look = ("CALL () {{ UNWIND ${keys} AS k OPTIONAL MATCH (n:{label} {{key: k}}) "
            "RETURN collect([n]) AS {nodes}, collect(k) AS {seen} }} ")
    text = look.format(keys="ak", label=a, nodes="an", seen="aks")
    text += look.format(keys="bk", label=b, nodes="bn", seen="bks")
    return (text + "WITH an, bn WHERE aks = $ak AND bks = $bk "
            "UNWIND range(0, size($ai) - 1) AS i "
            "WITH i, an[$ai[i]][0] AS a, bn[$bi[i]][0] AS b WHERE a IS NOT NULL AND b IS NOT NULL ")


def _rel(triple: Triple, create: bool, sets: list[str]) -> str:
    a, t, b = triple
    verb = "CREATE" if create else "MERGE"
    return (PLANNED + _ends(a, b) + f"{verb} (a)-[r:{t}]->(b) SET " + ", ".join(sets)
            + " RETURN count(*) AS rows")


def _exists(label: str) -> str:
    return PLANNED + f"UNWIND $key AS k MATCH (n:{label} {{key: k}}) RETURN collect(k) AS keys"


def _fresh_starts(triple: Triple) -> str:
    """Keys of ``$key`` with no start node yet, or one without a relationship of the type."""
    a, t, _b = triple
    return (PLANNED + f"UNWIND $key AS k OPTIONAL MATCH (a:{a} {{key: k}}) "
            f"WITH k, a WHERE a IS NULL OR NOT EXISTS {{ (a)-[:{t}]->() }} "
            "RETURN collect(k) AS keys")


def _starts_without(triple: Triple) -> str:
    a, t, _b = triple
    return (PLANNED + f"UNWIND $key AS k MATCH (a:{a} {{key: k}}) "
            f"WHERE NOT EXISTS {{ (a)-[:{t}]->() }} RETURN collect(k) AS keys")


# label -> statement. Columns: key, regions, <properties> (``<t>_s``/``<t>_ns`` for times).
UPSERT_NODES: dict[str, str] = {label: upsert_node(label, spec)
                                 for label, spec in NODE_PROPERTIES.items()}
CREATE_NODES: dict[str, str] = {label: create_node(label, spec)
                                 for label, spec in NODE_PROPERTIES.items()}
# label -> the keys of ``$key`` that have a node already.
EXISTING_KEYS: dict[str, str] = {label: _exists(label) for label in NODE_PROPERTIES}

# triple -> statement. Columns: ak, bk (distinct end keys), ai, bi, regions, <properties>.
MERGE_RELATIONSHIPS: dict[Triple, str] = {
    triple: _rel(triple, False, [f"r.regions = {_union('r')}", *_keep("r", props, ())])
    for triple, props in RELATIONSHIP_PROPERTIES.items()
}
CREATE_RELATIONSHIPS: dict[Triple, str] = {
    triple: _rel(triple, True, ["r.regions = $regions[i]", *_fresh("r", props, (), True)])
    for triple, props in RELATIONSHIP_PROPERTIES.items()
}
# triple -> absolute set. Columns as above; regions is the full union, times never null.
SET_AGGREGATES: dict[Triple, str] = {
    triple: _rel(triple, False, ["r.regions = $regions[i]", *_fresh("r", props, times, False)])
    for triple, (props, times) in AGGREGATE_PROPERTIES.items()
}
CREATE_AGGREGATES: dict[Triple, str] = {
    triple: _rel(triple, True, ["r.regions = $regions[i]", *_fresh("r", props, times, False)])
    for triple, (props, times) in AGGREGATE_PROPERTIES.items()
}
# triple -> the start keys of ``$key`` whose node has no relationship of the type at all.
STARTS_WITHOUT: dict[Triple, str] = {
    triple: _starts_without(triple)
    for triple in (*RELATIONSHIP_PROPERTIES, *AGGREGATE_PROPERTIES)
}

# triple -> the start keys of ``$key`` that have no relationship of the type yet, their node
# written or not (a partitioned load reads this before its own node batches have committed).
FRESH_STARTS: dict[Triple, str] = {triple: _fresh_starts(triple) for triple in AGGREGATE_PROPERTIES}

# The warm-up's scratch elements (loaders.warmup): keys and load id starting with ``$prefix``.
FORGET_NODES: dict[str, str] = {
    label: f"MATCH (n:{label}) WHERE n.key STARTS WITH $prefix DETACH DELETE n"
    for label in NODE_PROPERTIES}
FORGET_LOAD = "MATCH (l:LoadRecord) WHERE l.id STARTS WITH $prefix DELETE l"

LOAD_STATUS = PLANNED + "MATCH (l:LoadRecord {id: $id}) RETURN l.status AS status"
# Rows: {id, props}; the whole property set is replaced (status running -> complete).
RECORD_LOAD = PLANNED + "UNWIND $rows AS row MERGE (l:LoadRecord {id: row.id}) SET l = row.props"
