"""What every face offers, built on the ledger and its views: the JSON documents, the
queries, diagnosis, digest, audit, export, the reactor and webhook delivery."""
