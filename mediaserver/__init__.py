"""Pure-Python selective forwarding unit: one UDP port, RTP forwarded packet by packet, never decoded."""
