"""Connect: the built-in CA, leaf certificates, intentions and the built-in proxy."""
