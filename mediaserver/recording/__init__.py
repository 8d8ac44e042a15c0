"""Recording: a tap on each publication in the media server, muxed to WebM by a separate worker process."""
