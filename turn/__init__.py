"""TURN (coturn) provisioning: the turnserver.conf template and its renderer, Terraform, the autoscaler."""
