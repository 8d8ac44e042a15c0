"""One peer's session on the shared UDP port: ICE-lite, DTLS, SRTP and the demultiplexer."""
