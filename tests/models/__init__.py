"""Tests of the models: the wire format, enums, config, builder, ids, validation and the public surface."""
