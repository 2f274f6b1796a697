"""Pure logic the actors call: no threads, no sockets, no clock reads.

- ``frames``: parse WebSocket frames into typed frames.
- ``normalize``: snapshots, detail events, REST conversations and analytics
  records into one observation shape.
- ``state``, ``merge``: the merged conversation state and the join that builds it.
- ``lifecycle``: lifecycle events and the forward filter.
- ``records``: DynamoDB items and SQS messages.
- ``topics``: topic names, channel shards and conversation shards.
- ``backoff``: retry delays.
"""
