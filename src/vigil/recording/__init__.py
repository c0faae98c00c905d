"""Recording, playback and privacy masks (issue 18).

* :mod:`~vigil.recording.writer`: a camera's packets, teed from its PyAV source, remuxed without
  re-encoding into fragmented-MP4 segments by a bounded writer thread of its own, each finished
  segment hashed, optionally encrypted, and indexed.
* :mod:`~vigil.recording.index`: the segment index (database rows plus the files) that playback,
  retention and evidence export read.
* :mod:`~vigil.recording.playback`: one MP4 for a camera and a time window, remuxed from the
  segments (:func:`~vigil.recording.playback.build_clip`), and the masked re-encode.
* :mod:`~vigil.recording.masks`: privacy masks blacked out in frames.
* :mod:`~vigil.recording.crypto`: AES-256-GCM at rest.
"""
