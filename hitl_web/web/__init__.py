"""The web layer: pages, forms, JSON API and live sockets."""
