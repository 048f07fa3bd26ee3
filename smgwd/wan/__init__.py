"""WAN side of the gateway: the lab PKI, certificate chains, CMS, mutual TLS, delivery to EMPs."""
