"""Tests of the foundation (issue 3): models, wire format, enums, config, builder, ids, public surface."""
