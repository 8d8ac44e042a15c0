"""Load generator: bots on the project's own transport code that join meetings and measure the media server."""
