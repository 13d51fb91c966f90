"""The service mesh's registration side: what a service definition's `connect` block registers."""
