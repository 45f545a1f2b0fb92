"""On-disk contracts and the coordinate rules every stage shares (see docs/ARCHITECTURE.md, "formats")."""
