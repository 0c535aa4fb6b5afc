"""Discoverers: ARP, mDNS, SSDP, WS-Discovery, SADP, DHIP; each pure build/parse + transport."""
