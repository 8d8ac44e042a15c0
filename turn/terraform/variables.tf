variable "do_token" {
  description = "DigitalOcean API token (TF_VAR_do_token; a CI secret, never in a file)"
  type        = string
  sensitive   = true
}

variable "turn_secret" {
  description = "coturn static-auth-secret, the same value as the gateways' TURN_SECRET"
  type        = string
  sensitive   = true
  validation {
    # It is written into the boot script inside single quotes: nothing that could end them.
    condition     = can(regex("^[A-Za-z0-9+/=_.-]{16,256}$", var.turn_secret))
    error_message = "turn_secret must be 16-256 characters of A-Z a-z 0-9 + / = _ . -"
  }
}

variable "ssh_key_id" {
  description = "ID or fingerprint of the SSH key allowed on the droplet"
  type        = string
}

variable "admin_ip" {
  description = "The one address (CIDR) allowed to SSH in, e.g. 203.0.113.7/32"
  type        = string
}

variable "environment" {
  description = "Name suffix and tag: production, staging, ..."
  type        = string
  default     = "production"
}

variable "domain" {
  description = "DNS name pointing at the droplet (turns: URLs and the Let's Encrypt certificate)"
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9.-]{1,253}$", var.domain))
    error_message = "domain must be a plain DNS name"
  }
}

variable "letsencrypt_email" {
  description = "Contact address for the Let's Encrypt account"
  type        = string
}

variable "region" {
  description = "Frankfurt: close to the users in Ukraine"
  type        = string
  default     = "fra1"
}

variable "size" {
  description = "2 vCPU / 4 GB carries the relayed share of several 20-person meetings"
  type        = string
  default     = "s-2vcpu-4gb"
}
