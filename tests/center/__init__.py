"""Tests of the center: store on SQLite and PostgreSQL, migrations, API, roles, faults."""
