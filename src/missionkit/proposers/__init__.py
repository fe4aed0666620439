"""
Strategy sources: the context they receive and the deterministic default (SPEC §7).
"""

from missionkit.proposers._context import ProposalContext, Proposer
from missionkit.proposers._default import default_proposer

__all__ = ["ProposalContext", "Proposer", "default_proposer"]
