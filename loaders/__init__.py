"""Source files -> normalized, validated records -> the graph and the event store.

One module per source; ``normalize`` holds the contract's identifier rules, shared by every
loader and by the scenario generator.
"""
