"""Signaling gateway: pages, REST API, WebSocket signaling, host auth and meeting state."""
