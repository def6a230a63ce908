"""Per-request DataLoaders: entities by key, related entities and co-travel meetings, batched.

Created in ``get_context`` for every request (never shared: a loader's cache holds what one
caller may see). Keys carry the scope, so fields with different scopes in one document never
share an answer. A batch of entities is one statement per scope whatever their kinds; related
entities are one statement per relationship pattern and scope, all sent at once; the meetings
of every co-travel pair asked for are one co-travel service call. Resolvers
that already read whole visible nodes (paths) put them in the cache with :meth:`Loaders.prime`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence

from strawberry.dataloader import DataLoader

from fusion.api.cypher import read
from fusion.api.nodes import Node
from fusion.api.resources import Resources
from fusion.services.cotravel import Meeting, MeetingsOf, co_travel_evidence
from queries.entities import NODES_BY_KEYS, RELATED, RELATED_NODES
from queries.model import KIND_LABELS, LABEL_KINDS

NodeKey = tuple[str, str, frozenset[str]]          # kind, canonical key, scope
RelatedKey = tuple[str, str, frozenset[str]]       # RELATED name, key of the source, scope


class Loaders:
    """The request's loaders."""

    def __init__(self, services: Resources) -> None:
        self.services = services
        self.node: DataLoader[NodeKey, Node | None] = DataLoader(load_fn=self._nodes)
        self.related: DataLoader[RelatedKey, list[Node]] = DataLoader(load_fn=self._related)
        self.evidence: DataLoader[MeetingsOf, list[Meeting]] = DataLoader(
            load_fn=self._evidence)

    async def _evidence(self, keys: Sequence[MeetingsOf]) -> list[list[Meeting]]:
        """Every meeting of each pair, one co-travel service call for all of them."""
        return await co_travel_evidence(self.services.runtime, keys)

    def prime(self, nodes: Iterable[Node], scope: frozenset[str]) -> None:
        """Cache ``nodes`` as read in ``scope`` (each must be visible in it, with every
        property), so fields resolving them need no further query."""
        self.node.prime_many({(n.kind, n.key, scope): n for n in nodes})

    async def _nodes(self, keys: Sequence[NodeKey]) -> list[Node | None]:
        groups: dict[frozenset[str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for kind, key, scope in keys:
            groups[scope][KIND_LABELS[kind]].add(key)
        found: dict[NodeKey, Node] = {}
        answers = await asyncio.gather(*(
            read(self.services, NODES_BY_KEYS, scope=sorted(scope),
                 keys={label: sorted(group) for label, group in by_label.items()})
            for scope, by_label in groups.items()))
        for scope, records in zip(groups, answers, strict=True):
            for r in records:
                found[(LABEL_KINDS[r["label"]], r["key"], scope)] = Node.from_props(
                    r["label"], r["props"])
        return [found.get(k) for k in keys]

    async def _related(self, keys: Sequence[RelatedKey]) -> list[list[Node]]:
        groups: dict[tuple[str, frozenset[str]], set[str]] = defaultdict(set)
        for name, key, scope in keys:
            groups[(name, scope)].add(key)
        cap = self.services.settings.api_max_results
        answers = await asyncio.gather(*(
            read(self.services, RELATED_NODES[name], keys=sorted(group), scope=sorted(scope),
                 cap=cap)
            for (name, scope), group in groups.items()))
        found: dict[RelatedKey, list[Node]] = {}
        for (name, scope), records in zip(groups, answers, strict=True):
            target = RELATED[name][2]
            for r in records:
                found[(name, r["key"], scope)] = [Node.from_props(target, p) for p in r["nodes"]]
        return [found.get(k, []) for k in keys]
