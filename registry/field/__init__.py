"""Field operations: backups, the offline install bundle, the demo project."""
