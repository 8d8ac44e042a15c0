output "turn_server_ip" {
  value = digitalocean_droplet.turn.ipv4_address
}

output "droplet_id" {
  description = "For the autoscaler (python -m turn.autoscaler --droplet-id ...)"
  value       = digitalocean_droplet.turn.id
}

output "turn_urls" {
  description = "The gateways' TURN_URLS"
  value = join(",", [
    "turn:${var.domain}:3478?transport=udp",
    "turn:${var.domain}:3478?transport=tcp",
    "turns:${var.domain}:5349?transport=tcp",
    "turns:${var.domain}:443?transport=tcp",
  ])
}
