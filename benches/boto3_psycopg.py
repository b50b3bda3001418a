#!/usr/bin/env python3
"""The baseline of `cargo bench --bench pipeline -- ingest`: what a user would
write to keep AWS Backup copy jobs in PostgreSQL without backup-audit.

boto3's ListCopyJobs paginator, and per page one psycopg `executemany` of an
upsert (current state only, no history) in a transaction. Needs Python 3 with
boto3 and psycopg 3 (`pip install boto3 "psycopg[binary]"`). Run by the
pipeline bench against the same emulator as backup-audit; by hand:

    python3 benches/boto3_psycopg.py --endpoint-url http://127.0.0.1:4566 \
        --region us-east-1 --database-url postgres://...

Prints the number of jobs written on stdout.
"""
import argparse
import json

import boto3
import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS py_copy_jobs (
    account_id text NOT NULL, region text NOT NULL, copy_job_id text NOT NULL,
    state text, creation_date timestamptz, completion_date timestamptz,
    resource_arn text, job jsonb NOT NULL, last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, region, copy_job_id))
"""
UPSERT = """
INSERT INTO py_copy_jobs VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (account_id, region, copy_job_id) DO UPDATE SET
    state = EXCLUDED.state, completion_date = EXCLUDED.completion_date,
    job = EXCLUDED.job, last_seen_at = now()
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url")
    parser.add_argument("--region", action="append", required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    written = 0
    with psycopg.connect(args.database_url) as db:
        db.execute(SCHEMA)
        db.commit()
        for region in args.region:
            backup = boto3.client("backup", region_name=region, endpoint_url=args.endpoint_url)
            account = boto3.client("sts", region_name=region, endpoint_url=args.endpoint_url) \
                .get_caller_identity()["Account"]
            for page in backup.get_paginator("list_copy_jobs").paginate():
                rows = [(job.get("AccountId", account), region, job["CopyJobId"], job.get("State"),
                         job.get("CreationDate"), job.get("CompletionDate"), job.get("ResourceArn"),
                         json.dumps(job, default=str)) for job in page["CopyJobs"]]
                with db.cursor() as cur:
                    cur.executemany(UPSERT, rows)
                db.commit()
                written += len(rows)
    print(written)


if __name__ == "__main__":
    main()
