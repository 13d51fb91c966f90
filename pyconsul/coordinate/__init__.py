"""Network coordinates: the pure Vivaldi core (vivaldi.py) and the agent-side updater
(updater.py) that feeds it RTT samples and sends the result to the servers."""
