"""Query complexity measured in one linear pass, before any validator expands a fragment.

strawberry's QueryDepthLimiter and MaxAliasesLimiter walk a fragment's selections again at every
spread of it, so a 920-byte document whose fragments each spread the next one twice
(``fragment F0 on Query { ...F1 ...F1 } ...``, 22 levels) makes them visit four million
selections on the event loop, and every other request waits. Here each fragment is measured
once and its figures reused at every spread (memoization), so the cost is linear in the
document's length whatever it expands to. A document whose expansion is too large, too deep or
too aliased — or whose fragments spread themselves or an unknown fragment — is refused before
graphql-core's and strawberry's validators see it; those then only ever walk bounded documents.
graphql-core's overlapping-fields rule is quadratic in the fields sharing a response name, so
once the expansion is known to be bounded, the same-named pairs it would compare are counted
too (:func:`merged_pairs`).

Depth and aliases are counted as the strawberry limiters count them (introspection fields do not
deepen, fragments and inline fragments do not deepen, every operation of the document counts),
so the limits mean what they meant before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from fusion.api.doccache import DocumentCache
from fusion.errors import BadInput, TooComplex

# Selections (fields, spreads, inline fragments) a document may hold once every fragment
# spread is replaced by the fragment, per token it may hold: the shipped saved queries expand to
# at most 29 selections and the console's introspection query to 230; strawberry validates and
# executes 16,000 selections in about 20 ms.
EXPANSION_PER_TOKEN = 3
# Pairs of same-named fields graphql-core's OverlappingFieldsCanBeMerged rule compares once
# fields are merged (sub-selections of same-named fields merge too). The rule is quadratic: 300
# fragments each selecting `savedQueries { name }` (17 kB, within the token limit) cost it 2.4 s.
# The shipped saved queries and the introspection query merge at most a few dozen pairs.
MAX_MERGED_PAIRS = 2000


@dataclass(frozen=True)
class Shape:
    """How large one selection set (operation or fragment) is once fully expanded."""

    size: int = 0       # selections after expansion
    depth: int = 0      # deepest nesting, as QueryDepthLimiter counts it
    aliases: int = 0    # aliased fields after expansion


@dataclass
class _Local:
    """A definition's own figures, with its spreads still unexpanded."""

    size: int = 0
    depth: int = 0
    aliases: int = 0
    spreads: list[tuple[FragmentSpreadNode, int, bool]] = field(default_factory=list)


def check_document(document: DocumentNode, *, max_depth: int, max_aliases: int,
                   max_size: int) -> None:
    """Refuse ``document`` (TooComplex, or BadInput for bad fragments) in linear time."""
    shapes = document_shapes(document)
    for name, shape in shapes.items():
        label = f"'{name}'" if name else "The operation"
        if shape.depth > max_depth:
            raise TooComplex(f"{label} exceeds maximum operation depth of {max_depth}")
        if shape.size > max_size:
            raise TooComplex(f"{label} expands to more than {max_size} selections once its "
                             "fragments are spread")
    aliases = sum(s.aliases for s in shapes.values())
    if aliases > max_aliases:
        raise TooComplex(f"{aliases} aliases found. Allowed: {max_aliases}")
    if merged_pairs(document) > MAX_MERGED_PAIRS:
        raise TooComplex(f"The document repeats field names too often (more than "
                         f"{MAX_MERGED_PAIRS} pairs of same-named fields to compare)")


def merged_pairs(document: DocumentNode) -> int:
    """Pairs of same-named fields in every merged selection set, fragments expanded.

    Only for documents already within the expansion limit (their fragments acyclic, known):
    the walk visits every expanded selection once.
    """
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    groups = [[d.selection_set.selections] for d in document.definitions
              if isinstance(d, OperationDefinitionNode)]
    pairs = 0
    while groups and pairs <= MAX_MERGED_PAIRS:
        counts: dict[str, int] = {}
        subs: dict[str, list] = {}
        pending = groups.pop()
        while pending:
            for node in pending.pop():
                if isinstance(node, FragmentSpreadNode):
                    pending.append(fragments[node.name.value].selection_set.selections)
                elif isinstance(node, InlineFragmentNode):
                    pending.append(node.selection_set.selections)
                else:
                    key = (node.alias or node.name).value
                    counts[key] = counts.get(key, 0) + 1
                    if node.selection_set is not None:
                        subs.setdefault(key, []).append(node.selection_set.selections)
        pairs += sum(c * (c - 1) // 2 for c in counts.values())
        groups.extend(subs.values())
    return pairs


def document_shapes(document: DocumentNode) -> dict[str | None, Shape]:
    """The expanded shape of each operation of ``document``, by operation name."""
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Shape] = {}
    shapes: dict[str | None, Shape] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            local = _local(definition.selection_set.selections)
            _measure_fragments(local, fragments, memo)
            shapes[definition.name.value if definition.name else None] = _combine(local, memo)
    return shapes


def _measure_fragments(root: _Local, fragments: dict[str, FragmentDefinitionNode],
                       memo: dict[str, Shape]) -> None:
    """Fill ``memo`` with every fragment ``root`` reaches, children first (no recursion)."""
    locals_: dict[str, _Local] = {}          # the fragments being measured: the current path
    stack: list[tuple[str | None, Iterator[FragmentSpreadNode]]] = [(None, _spreads(root))]
    while stack:
        name, spreads = stack[-1]
        spread = next(spreads, None)
        if spread is None:
            stack.pop()
            if name is not None:
                memo[name] = _combine(locals_.pop(name), memo)
            continue
        target = spread.name.value
        if target in memo:
            continue
        if target in locals_:
            raise BadInput(f"Cannot spread fragment '{target}' within itself.")
        if target not in fragments:
            raise BadInput(f"Unknown fragment '{target}'.")
        locals_[target] = _local(fragments[target].selection_set.selections)
        stack.append((target, _spreads(locals_[target])))


def _spreads(local: _Local) -> Iterator[FragmentSpreadNode]:
    """The fragment spreads of a definition's own selections."""
    return iter([spread for spread, _, _ in local.spreads])


def _local(selections: Iterable[SelectionNode]) -> _Local:
    """The figures of one definition's own selections (iterative; spreads recorded)."""
    local = _Local()
    stack = [(list(selections), 0, False)]
    while stack:
        items, level, ignored = stack.pop()
        for node in items:
            local.size += 1
            if not ignored:
                local.depth = max(local.depth, level)
            if isinstance(node, FragmentSpreadNode):
                local.spreads.append((node, level, ignored))
                continue
            if isinstance(node, FieldNode) and node.alias:
                local.aliases += 1
            if node.selection_set is None:
                continue
            if isinstance(node, InlineFragmentNode):
                stack.append((node.selection_set.selections, level, ignored))
                continue
            introspection = node.name.value.startswith("__")
            stack.append((node.selection_set.selections, level + (not introspection),
                          ignored or introspection))
    return local


def _combine(local: _Local, memo: dict[str, Shape]) -> Shape:
    """A definition's expanded shape from its own figures and its spreads' shapes."""
    size, depth, aliases = local.size, local.depth, local.aliases
    for spread, level, ignored in local.spreads:
        shape = memo[spread.name.value]
        size += shape.size
        aliases += shape.aliases
        if not ignored:
            depth = max(depth, level + shape.depth)
    return Shape(size=size, depth=depth, aliases=aliases)


class DocumentLimits(SchemaExtension):
    """Check the parsed document in linear time, then validate it off the event loop.

    Validation (graphql-core's rules and the depth and alias limiters added by other
    extensions) runs in a thread of its own once the check passed, so even a bounded but
    costly document never stalls other requests; a refused document is never validated.
    With a :class:`~fusion.api.doccache.DocumentCache`, a text parsed before is not parsed
    again and one that passed all of this before is not checked again (same text, same
    schema, same limits: same outcome).
    """

    _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fusion-validate")

    def __init__(self, *, max_depth: int, max_aliases: int, max_tokens: int,
                 cache: DocumentCache | None = None) -> None:
        self._limits = {"max_depth": max_depth, "max_aliases": max_aliases,
                        "max_size": EXPANSION_PER_TOKEN * max_tokens}
        self._cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if self._cache is not None and context.graphql_document is None and context.query:
            try:
                context.graphql_document = self._cache.parse(
                    context.query, context.parse_options.get("max_tokens"))
            except Exception:  # noqa: BLE001 - strawberry parses again and reports it
                context.graphql_document = None
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            text = context.query if self._cache is not None else None
            if isinstance(text, str) and self._cache.is_valid(text):
                context.pre_execution_errors = []
            else:
                context.pre_execution_errors = await self._check(document)
                if not context.pre_execution_errors and isinstance(text, str):
                    self._cache.mark_valid(text)
        yield

    async def _check(self, document: DocumentNode) -> list[GraphQLError]:
        """The errors of the linear check, else of validation (in a worker thread)."""
        context = self.execution_context
        try:
            check_document(document, **self._limits)
        except (TooComplex, BadInput) as err:
            return [GraphQLError(str(err), original_error=err)]
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, validate_document, context.schema._schema, document,
            context.validation_rules)
