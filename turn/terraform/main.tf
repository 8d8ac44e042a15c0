# The TURN droplet: coturn with time-limited credentials (use-auth-secret), configured at first boot by
# ../setup.sh from ../turnserver.conf.template (the same template the project's tests run coturn with).

locals {
  # Only the first line is interpolated: setup.sh and the template go in as they are.
  user_data = join("\n", [
    "#!/bin/bash",
    "export TURN_SECRET='${var.turn_secret}' DOMAIN='${var.domain}' EMAIL='${var.letsencrypt_email}'",
    "cat > /etc/turnserver.conf.template <<'MEETINGS_TEMPLATE'",
    file("${path.module}/../turnserver.conf.template"),
    "MEETINGS_TEMPLATE",
    file("${path.module}/../setup.sh"),
  ])
}

resource "digitalocean_droplet" "turn" {
  image      = "ubuntu-22-04-x64"
  name       = "meetings-turn-${var.environment}"
  region     = var.region
  size       = var.size
  ssh_keys   = [var.ssh_key_id]
  monitoring = true
  user_data  = local.user_data
  tags       = ["turn-server", var.environment]
}

resource "digitalocean_firewall" "turn" {
  name        = "meetings-turn-${var.environment}"
  droplet_ids = [digitalocean_droplet.turn.id]

  inbound_rule {
    protocol         = "udp"
    port_range       = "3478"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "3478"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  # TURN over TLS: 5349, and 443 for networks that let nothing else out.
  inbound_rule {
    protocol         = "tcp"
    port_range       = "5349"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "443"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  # certbot's HTTP-01 challenge (standalone) when the certificate is issued or renewed.
  inbound_rule {
    protocol         = "tcp"
    port_range       = "80"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  # The relayed media.
  inbound_rule {
    protocol         = "udp"
    port_range       = "49152-65535"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = [var.admin_ip]
  }

  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }

  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }
}
