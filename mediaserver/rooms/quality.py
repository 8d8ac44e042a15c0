"""Connection quality of a participant as the host sees it: a level from loss and round-trip time."""

from __future__ import annotations

# Thresholds in the spirit of LiveKit's connection quality: loss hurts video first, RTT hurts conversation.
POOR_LOSS, FAIR_LOSS = 0.10, 0.02
POOR_RTT_MS, FAIR_RTT_MS = 400.0, 200.0


def classify(loss: float, rtt_ms: float | None) -> str:
    rtt = rtt_ms or 0.0
    if loss > POOR_LOSS or rtt > POOR_RTT_MS:
        return "poor"
    if loss > FAIR_LOSS or rtt > FAIR_RTT_MS:
        return "fair"
    return "good"
