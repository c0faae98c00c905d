"""Helpers shared by the test files: plain modules, imported as ``tests.support.<module>``.

* :mod:`~tests.support.data` -- paths into ``../shared/data`` (skipping when absent).
* :mod:`~tests.support.storage` -- a migrated database on each engine, record factories.
* :mod:`~tests.support.api_env` -- the API over a fresh database with one user per role.
* :mod:`~tests.support.governance_world` -- governance services over one database, a clock.
* :mod:`~tests.support.cli` -- running ``vigil`` in-process against a test's config.
* :mod:`~tests.support.cameras` -- real RTSP and HTTP cameras on loopback.

The fixtures among them are registered for every test by ``tests/conftest.py``; the rest are
imported by name. None of these modules holds tests.
"""
