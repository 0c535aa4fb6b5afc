"""Discoverers: ARP, mDNS, SSDP, WS-Discovery, SADP, DHIP. Each module: pure build/parse, thin transport."""
