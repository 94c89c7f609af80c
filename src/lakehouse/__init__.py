"""Supervision lakehouse: 17 regulatory feeds -> Delta bronze/silver -> PostgreSQL marts."""
