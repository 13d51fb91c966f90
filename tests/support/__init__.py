"""The test kit: one poll helper (`wait`), one port/address allocator (`ports`) and one
agent-process helper (`agents`). Every test that waits, needs a port or starts an agent uses these."""
