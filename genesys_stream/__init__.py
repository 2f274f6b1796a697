"""genesys-stream: Genesys Cloud conversation events into DynamoDB and SQS."""

__version__ = "0.1.0"
