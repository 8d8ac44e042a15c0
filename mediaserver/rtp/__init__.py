"""RTP/RTCP packet formats on raw bytes: headers, extensions, RTCP, VP8 descriptor, sequence arithmetic."""
