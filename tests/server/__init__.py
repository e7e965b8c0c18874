"""Tests of the local reference server (issue 4): HTTP API, storage, predictions, keys, faults, runner."""
