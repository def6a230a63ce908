"""Per-request DataLoaders: entities by key and related entities, batched per scope.

Created in ``get_context`` for every request (never shared: a loader's cache holds what one
caller may see). Keys carry the scope, so fields with different scopes in one document never
share an answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from fusion.api.db import read
from fusion.api.nodes import Node
from fusion.api.services import Services
from queries.entities import NODES_BY_KEYS, RELATED, RELATED_NODES
from queries.model import KIND_LABELS

NodeKey = tuple[str, str, frozenset[str]]          # kind, canonical key, scope
RelatedKey = tuple[str, str, frozenset[str]]       # RELATED name, key of the source, scope


class Loaders:
    """The request's loaders."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.node: DataLoader[NodeKey, Node | None] = DataLoader(load_fn=self._nodes)
        self.related: DataLoader[RelatedKey, list[Node]] = DataLoader(load_fn=self._related)
        self.evidence: DataLoader[tuple, list[tuple]] = DataLoader(load_fn=self._evidence)

    async def _evidence(self, keys: Sequence[tuple]) -> list[list[tuple]]:
        from fusion.api.resolvers.cotravel import meetings_of_pairs
        from fusion.api.workers import in_worker

        return await in_worker(self.services, meetings_of_pairs, self.services.settings.home,
                               list(keys))

    async def _nodes(self, keys: Sequence[NodeKey]) -> list[Node | None]:
        groups: dict[tuple[str, frozenset[str]], set[str]] = defaultdict(set)
        for kind, key, scope in keys:
            groups[(kind, scope)].add(key)
        found: dict[NodeKey, Node] = {}
        for (kind, scope), group in groups.items():
            label = KIND_LABELS[kind]
            records = await read(self.services, NODES_BY_KEYS[label], keys=sorted(group),
                                 scope=sorted(scope))
            for r in records:
                found[(kind, r["key"], scope)] = Node.from_props(label, r["props"])
        return [found.get(k) for k in keys]

    async def _related(self, keys: Sequence[RelatedKey]) -> list[list[Node]]:
        groups: dict[tuple[str, frozenset[str]], set[str]] = defaultdict(set)
        for name, key, scope in keys:
            groups[(name, scope)].add(key)
        found: dict[RelatedKey, list[Node]] = {}
        cap = self.services.settings.api_max_results
        for (name, scope), group in groups.items():
            target = RELATED[name][2]
            records = await read(self.services, RELATED_NODES[name], keys=sorted(group),
                                 scope=sorted(scope), cap=cap)
            for r in records:
                found[(name, r["key"], scope)] = [Node.from_props(target, p) for p in r["nodes"]]
        return [found.get(k, []) for k in keys]
