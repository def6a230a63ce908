"""The scenario generator: a synthetic multi-region world written as source files, with its truth.

A regular package (it was a namespace package) so that the import contracts place it.
"""
