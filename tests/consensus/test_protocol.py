"""Every Consensus answers the whole protocol (callers never probe), and the agent is a complete
AgentPort for the API."""

from __future__ import annotations

import pytest

from pyconsul.agent.agent import Agent
from pyconsul.api.port import AgentPort
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.consensus.errors import UnknownPeer
from pyconsul.consensus.local import LocalConsensus
from pyconsul.consensus.protocol import Consensus
from pyconsul.consensus.raft import RaftConsensus
from pyconsul.consensus.remote import RemoteConsensus


def members(protocol: type) -> list[str]:
    return [n for n in vars(protocol) if not n.startswith("_")]


@pytest.mark.parametrize("impl", [LocalConsensus, RaftConsensus, RemoteConsensus])
def test_every_implementation_defines_the_whole_protocol(impl: type) -> None:
    assert [n for n in members(Consensus) if not hasattr(impl, n)] == []


async def test_a_dev_agent_is_a_whole_agent_port_and_its_raft_view_is_itself() -> None:
    cfg = RuntimeConfig(dev=True, server=True, node_name="dev1")
    agent = Agent(cfg)
    assert [n for n in members(AgentPort) if not hasattr(agent, n)] == []
    (me,) = agent.consensus.configuration()
    assert (me["Node"], me["ID"], me["Leader"], me["Voter"]) == ("dev1", cfg.node_id, True, True)
    assert me["Address"] == agent.consensus.leader_status().leader_addr
    with pytest.raises(UnknownPeer, match="was not found in the Raft configuration"):
        await agent.consensus.remove_peer(address="127.0.0.9:8300")
    assert agent.server_relay is None and agent.consensus.stream_handler is None
