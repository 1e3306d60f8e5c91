"""What the suites share: clients, the table of every call, the wire as the service sees it,
bounce records and the secret-leak check. Facts about the service come from `mailkit_async._service`."""
