"""What the suites share: clients, the table of every call, the wire as the service sees it,
bounce records, the secret-leak check and a look into the connection pool. Facts about the service
come from `mailkit_async._service`."""
