"""Cluster mode: one Vigil over a Ray cluster (``cluster.engine: ray``).

Cameras run as Ray actors (:mod:`vigil.cluster.actor`), each the embedded pipeline of one camera
with its sinks writing to the shared PostgreSQL; :class:`~vigil.cluster.runner.ClusterRunner`
places them and watches them; the API, the housekeeping and the notifications run once, in the
``vigil run`` process (the head of the assembly). See docs/cluster.md.
"""
