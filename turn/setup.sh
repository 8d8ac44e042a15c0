#!/usr/bin/env bash
# First boot of the TURN droplet (cloud-init user data; terraform/main.tf puts the environment and the
# template in front of this script): coturn with use-auth-secret, its addresses from the droplet's metadata,
# TLS on 5349 and 443 once DNS points here, node exporter for Prometheus, logs under /var/log/turnserver.
#
# Needs TURN_SECRET, DOMAIN and EMAIL in the environment; the template path may be given as $1.
set -euo pipefail

: "${TURN_SECRET:?TURN_SECRET must be set: the value of the gateways TURN_SECRET}"
: "${DOMAIN:?DOMAIN must be set (the DNS name of this droplet)}"
: "${EMAIL:?EMAIL must be set: the contact address for the certificate}"
TEMPLATE=${1:-/etc/turnserver.conf.template}
METADATA=http://169.254.169.254/metadata/v1
CERT_DIR=/etc/coturn/certs

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q coturn certbot prometheus-node-exporter gettext-base curl

PUBLIC_IP=$(curl -fsS "$METADATA/interfaces/public/0/ipv4/address")

# Let's Encrypt once DNS points at this droplet (HTTP-01 on port 80); coturn reads a copy it owns, renewed
# by certbot's deploy hook. Without a certificate yet: TURN over UDP and TCP only, TLS after a renewal run.
install -d -o turnserver -g turnserver -m 0750 "$CERT_DIR"
cat > /etc/letsencrypt/renewal-hooks/deploy/coturn.sh <<HOOK
#!/bin/sh
install -o turnserver -g turnserver -m 0640 /etc/letsencrypt/live/$DOMAIN/fullchain.pem $CERT_DIR/fullchain.pem
install -o turnserver -g turnserver -m 0640 /etc/letsencrypt/live/$DOMAIN/privkey.pem $CERT_DIR/privkey.pem
systemctl restart coturn
HOOK
chmod 0755 /etc/letsencrypt/renewal-hooks/deploy/coturn.sh
if certbot certonly --standalone --non-interactive --agree-tos -m "$EMAIL" -d "$DOMAIN" \
    --deploy-hook /etc/letsencrypt/renewal-hooks/deploy/coturn.sh; then
  TLS_LINES=$(printf 'cert=%s\npkey=%s' "$CERT_DIR/fullchain.pem" "$CERT_DIR/privkey.pem")
else
  echo "setup.sh: no certificate yet (does $DOMAIN point here?); TLS listeners stay off" >&2
  TLS_LINES=$(printf 'no-tls\nno-dtls')
fi

# The same variables turn/config.py fills in for the project's tests.
export LISTENING_IP=0.0.0.0 TURN_PORT=3478 TURN_TLS_PORT=5349 TURN_ALT_TLS_PORT=443
export RELAY_IP="$PUBLIC_IP" EXTERNAL_IP="$PUBLIC_IP" MIN_PORT=49152 MAX_PORT=65535 REALM="$DOMAIN"
export USER_QUOTA=12 TOTAL_QUOTA=1200 LOG_FILE=/var/log/turnserver/turnserver.log TLS_LINES EXTRA_LINES=""
export TURN_SECRET
install -d -o turnserver -g turnserver -m 0750 /var/log/turnserver
envsubst < "$TEMPLATE" > /etc/turnserver.conf
chmod 0640 /etc/turnserver.conf
chown root:turnserver /etc/turnserver.conf

sed -i 's/^#\?TURNSERVER_ENABLED=.*/TURNSERVER_ENABLED=1/' /etc/default/coturn
systemctl enable --now prometheus-node-exporter
systemctl enable coturn
systemctl restart coturn
echo "setup.sh: coturn on $PUBLIC_IP ($DOMAIN) is running"
