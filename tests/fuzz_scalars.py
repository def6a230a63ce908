"""Schemathesis strategies for the schema's custom scalars (DateTime, JSON).

Schemathesis refuses to generate arguments of a scalar it does not know, and registration is
global to the process: every module that fuzzes the schema imports this one, so each also runs
alone (``pytest tests/test_hostile.py``), not only after another module registered them.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

_moments = st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Asia/Shanghai")]))
schemathesis.graphql.scalar("DateTime", _moments.map(lambda t: nodes.String(t.isoformat())))
schemathesis.graphql.scalar("JSON", st.one_of(
    st.just(graphql.NullValueNode()),
    st.dictionaries(st.sampled_from(["ref", "text", "limit", "id"]), st.text(max_size=20),
                    max_size=3).map(lambda d: nodes.Object([
                        graphql.ObjectFieldNode(name=graphql.NameNode(value=k),
                                                value=nodes.String(v)) for k, v in d.items()]))))
