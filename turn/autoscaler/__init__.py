"""The TURN autoscaler: powers the TURN droplet on when enough participants need a relay, off when none do."""
