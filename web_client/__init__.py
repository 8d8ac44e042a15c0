"""The static browser client (HTML, CSS, ES modules; no build step), shipped as package data of the gateway."""
