"""The served GraphQL schema: root fields, limits and error handling.

Every root field is guarded (:class:`fusion.api.context.Guard`). Limits are strawberry
extensions configured from the settings: depth, aliases and tokens; introspection stays on
(the console needs it) and is subject to the same limits. :class:`DocumentLimits` checks
them first in linear time (fragments measured once, cycles refused) and runs validation off
the event loop, so strawberry's limiters, which expand every fragment spread, only ever see
bounded documents.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from fusion.api.context import Guard
from fusion.api.errors import ErrorCodes, log_errors, request_id_of
from fusion.api.limits import DocumentLimits
from fusion.api.resolvers.admin import (
    resolve_audit_log,
    resolve_audit_log_page,
    resolve_close_joint_operation,
    resolve_create_joint_operation,
    resolve_joint_operations,
)
from fusion.api.resolvers.cotravel import (
    resolve_co_travel,
    resolve_co_travel_groups,
    resolve_co_travel_groups_page,
    resolve_co_travel_page,
)
from fusion.api.resolvers.entities import resolve_entity, resolve_search, resolve_search_page
from fusion.api.resolvers.gangs import resolve_gang_of, resolve_gangs, resolve_gangs_page
from fusion.api.resolvers.neighborhood import resolve_neighborhood
from fusion.api.resolvers.paths import resolve_export_paths, resolve_relationship_paths
from fusion.api.resolvers.saved import (
    resolve_approve_saved_query,
    resolve_revoke_saved_query_approval,
    resolve_run_saved_query,
    resolve_save_query,
    resolve_saved_queries,
)
from fusion.api.resolvers.timeline import resolve_timeline, resolve_timeline_page
from fusion.api.resolvers.workbench import (
    resolve_delete_workspace,
    resolve_save_workspace,
    resolve_time_paths,
    resolve_viewer,
    resolve_workspace,
    resolve_workspaces,
)
from fusion.api.scalars import SCALAR_MAP
from fusion.api.types.entity import ENTITY_TYPES
from fusion.config import Settings


def root(resolver: Any, description: str) -> Any:
    """A guarded root field."""
    return strawberry.field(resolver=resolver, description=description,
                            permission_classes=[Guard])


@strawberry.type(description="Questions about the graph, always within the caller's scope.")
class Query:
    entity = root(resolve_entity, "One entity by kind and key (canonical or raw).")
    search = root(resolve_search, "Full-text search over names, keys, summaries, addresses.")
    neighborhood = root(resolve_neighborhood,
                        "Entities and relationships around an entity, capped (`truncated`).")
    relationship_paths = root(resolve_relationship_paths,
                              "Shortest paths between two entities through visible elements.")
    export_paths = root(resolve_export_paths,
                        "The paths relationshipPaths returns, as one GraphML, GEXF or CSV file.")
    gangs = root(resolve_gangs, "Gangs (communities of linked people) within scope.")
    gang_of = root(resolve_gang_of, "The gang a person belongs to (null: none).")
    co_travel = root(resolve_co_travel,
                     "Vehicles or phones that travel together, of one subject or all.")
    co_travel_groups = root(resolve_co_travel_groups,
                            "Groups of vehicles or phones every two of which co-travel.")
    timeline = root(resolve_timeline,
                    "An entity's calls, texts, parcels, sightings and cases in time order.")
    saved_queries = root(resolve_saved_queries, "The saved queries you may see, by name.")
    run_saved_query = root(resolve_run_saved_query,
                           "Run a saved query by name; its `data` as JSON.")
    joint_operations = root(resolve_joint_operations,
                            "Joint operations you may see (admins: all; others: their own).")
    audit_log = root(resolve_audit_log, "Audit records, newest first (auditors and admins).")
    time_paths = root(resolve_time_paths,
                      "Fewest-hop paths whose events happen in time order (i2's Find Path).")
    workspaces = root(resolve_workspaces, "Saved charts the scope covers, latest first.")
    workspace = root(resolve_workspace, "One saved chart by id.")
    viewer = root(resolve_viewer, "Who you are: user, role, home regions, joint operations.")
    # Paged lists (docs/api.md, "Paging and streaming"): first/after, one snapshot per walk.
    search_page = root(resolve_search_page, "search's whole answer, a page at a time.")
    gangs_page = root(resolve_gangs_page, "gangs' whole answer, a page at a time.")
    co_travel_page = root(resolve_co_travel_page, "coTravel's whole answer, a page at a time.")
    co_travel_groups_page = root(resolve_co_travel_groups_page,
                                 "coTravelGroups' whole answer, a page at a time.")
    timeline_page = root(resolve_timeline_page, "timeline's whole answer, a page at a time.")
    audit_log_page = root(resolve_audit_log_page,
                          "auditLog's whole answer, a page at a time (auditors and admins).")


@strawberry.type(description="Changes: saved queries and joint operations.")
class Mutation:
    save_query = root(resolve_save_query,
                      "Save a query (validated against this schema) under a unique name.")
    approve_saved_query = root(resolve_approve_saved_query,
                               "Approve a saved query's current text for operators (admins).")
    revoke_saved_query_approval = root(resolve_revoke_saved_query_approval,
                                       "Withdraw a saved query's approval (admins).")
    create_joint_operation = root(resolve_create_joint_operation,
                                  "Open a joint operation sharing regions with members (admins).")
    close_joint_operation = root(resolve_close_joint_operation,
                                 "Close a joint operation now (admins).")
    save_workspace = root(resolve_save_workspace,
                          "Save a chart as a named workspace in the request's scope.")
    delete_workspace = root(resolve_delete_workspace, "Delete one of your workspaces.")


class FusionSchema(strawberry.Schema):
    """strawberry's Schema, logging errors with the request id."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        rid = request_id_of(execution_context) if execution_context else None
        log_errors(errors, rid)


def build_schema(settings: Settings) -> FusionSchema:
    """The schema with the limits of ``settings``."""
    return FusionSchema(
        query=Query,
        mutation=Mutation,
        types=list(ENTITY_TYPES.values()),
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.api_max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.api_max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.api_max_tokens),
            lambda: DocumentLimits(max_depth=settings.api_max_depth,
                                   max_aliases=settings.api_max_aliases,
                                   max_tokens=settings.api_max_tokens),
            ErrorCodes,
        ],
    )
