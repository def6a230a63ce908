"""The managed local Neo4j: installed from Maven Central into FUSION_HOME and run as a child JVM.

No Docker engine and no tarball download is available on police and CI machines, but Maven
Central is: the Community server is the jars of ``org.neo4j.app:neo4j-server`` and
``org.neo4j:neo4j``, started with ``org.neo4j.server.CommunityEntryPoint``.
"""

from fusion.managed.install import NEO4J_VERSION, Installation, ensure_installed
from fusion.managed.server import ManagedNeo4j, ServerStatus

__all__ = ["NEO4J_VERSION", "Installation", "ManagedNeo4j", "ServerStatus", "ensure_installed"]
