"""
The mission engine: phases, cadence, criteria, progress, cascade and commit.

Private: hosts use `missionkit.Mission` and `missionkit.Session`.
"""
