"""Subgraph exports as a GraphQL field: the files of fusion.api.export in an ExportDocument."""

from __future__ import annotations

from collections.abc import Iterable

from fusion.api.enums import ExportFormat
from fusion.api.export import subgraph_to_csv, subgraph_to_gexf, subgraph_to_graphml
from fusion.api.types.graph import ExportDocument, ExportFile

_XML = {ExportFormat.GRAPHML: ("graphml", "application/graphml+xml", subgraph_to_graphml),
        ExportFormat.GEXF: ("gexf", "application/gexf+xml", subgraph_to_gexf)}


def _plain(items: Iterable) -> list[dict]:
    return [x.as_export() if hasattr(x, "as_export") else x for x in items]


def export_document(fmt: ExportFormat, nodes: Iterable, rels: Iterable, name: str
                    ) -> ExportDocument:
    """The subgraph (Nodes/Rels or their export dicts) written in ``fmt``; files named ``name``."""
    node_dicts, rel_dicts = _plain(nodes), _plain(rels)
    if fmt in _XML:
        ext, media_type, write = _XML[fmt]
        files = [ExportFile(name=f"{name}.{ext}", media_type=media_type,
                            content=write(node_dicts, rel_dicts))]
    else:
        texts = subgraph_to_csv(node_dicts, rel_dicts, guard_formulas=True)
        files = [ExportFile(name=f"{name}-{part}", media_type="text/csv", content=text)
                 for part, text in sorted(texts.items())]
    return ExportDocument(format=fmt, files=files)
