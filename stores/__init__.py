"""Stores for conversation state, forwarded events, large payloads and checkpoints.

``base`` defines the protocols the pipeline writes to. ``dynamodb``, ``sqs`` and
``s3`` implement them on AWS, with clients from ``aws`` and one retry policy in
``retry``. ``local`` implements them on SQLite and a JSONL file. ``items`` and
``messages`` hold the pure DynamoDB item and SQS message rules, and ``errors``
the exception tree.
"""
