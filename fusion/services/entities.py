"""How the analyses name entities: re-exports of the reference and displayed-entity models
(:mod:`fusion.services.models`) under the names the analyses import."""

from __future__ import annotations

from fusion.services.models import Entity, EntityRef, PathNode

__all__ = ["Entity", "EntityRef", "PathNode"]
