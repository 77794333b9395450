"""Run one SELECT against the metadata database and print the rows as JSON (the fault and verify tests' reader).

Runs under the Airflow virtualenv's Python (it has psycopg2; ansible-core 2.19 modules need Python 3.8+, and
Airflow 2.0.2's is 3.7). libpq reads PGHOST, PGUSER, PGPASSWORD and PGDATABASE from the environment.
usage: python query.py "SELECT ... %(name)s ..." [name=value ...]
"""
import json
import sys

import psycopg2
import psycopg2.extras

params = dict(arg.split("=", 1) for arg in sys.argv[2:])
with psycopg2.connect("") as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
    cur.execute(sys.argv[1], params)
    print(json.dumps([dict(row) for row in cur.fetchall()], default=str))
