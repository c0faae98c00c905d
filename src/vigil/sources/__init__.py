"""Camera sources: video files, RTSP, HTTP MJPEG and snapshots, decoded with PyAV."""
